// loadConfig: defaults ← config file ← environment ← flags, and every mistake reported at once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, helpText, loadConfig, type Config } from '../../daemon/config.js';

/** The config, or fails the test when loadConfig answers --help. */
function load(argv: string[], env: NodeJS.ProcessEnv = {}, cwd = '/srv'): Config {
  const r = loadConfig(argv, { STATE_DIRECTORY: '/var/lib/hifid', ...env }, cwd);
  assert.equal(r.help, false);
  return (r as { config: Config }).config;
}

/** The problems loadConfig reports, or fails the test when it accepts. */
function problems(argv: string[], env: NodeJS.ProcessEnv = {}, cwd = '/srv'): string[] {
  try {
    loadConfig(argv, env, cwd);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.message, err.problems.join('\n'));
    return [...err.problems];
  }
  assert.fail(`accepted ${JSON.stringify(argv)} ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hifid-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('has working defaults with no flags, no environment and no file', () => {
    const c = load([]);
    assert.deepEqual({ ...c }, {
      dataDir: '/var/lib/hifid',
      musicDirs: [],
      port: 8200,
      name: `hifid on ${hostname()}`,
      interface: null,
      pin: null,
      maxUploadMb: 2048,
      minFreeMb: 64,
      ffmpeg: null,
      maxTranscodes: 2,
      transcodeCacheMb: 1024,
      localsendPort: 53317,
      localsendSessionIdleS: 60,
      logLevel: 'info',
      configFile: null,
    });
    assert.ok(Object.isFrozen(c), 'the config cannot be changed after loading');
  });

  it('takes the first StateDirectory systemd hands over', () => {
    assert.equal(load([], { STATE_DIRECTORY: '/var/lib/hifid:/var/lib/other' }).dataDir, '/var/lib/hifid');
  });

  it('resolves relative folders against the working directory', () => {
    const c = load(['--data-dir', 'data', '--music-dir', 'Music', '--music-dir', '/abs/Music'], {}, '/home/pi');
    assert.equal(c.dataDir, '/home/pi/data');
    assert.deepEqual(c.musicDirs, ['/home/pi/Music', '/abs/Music']);
  });

  it('accepts --flag=value and --flag value alike', () => {
    assert.equal(load(['--port=9000']).port, 9000);
    assert.equal(load(['--port', '9001']).port, 9001);
  });

  it('reads every setting from flags', () => {
    const c = load(['--data-dir', '/d', '--music-dir', '/m', '--port', '8300', '--name', 'Den', '--interface', 'eth0', '--pin', '0000', '--max-upload-mb', '10', '--min-free-mb', '0', '--ffmpeg', '/usr/bin/ffmpeg', '--max-transcodes', '3', '--transcode-cache-mb', '0', '--localsend-port', '0', '--localsend-session-idle-s', '5', '--log-level', 'debug']);
    assert.deepEqual({ ...c, musicDirs: [...c.musicDirs] }, { dataDir: '/d', musicDirs: ['/m'], port: 8300, name: 'Den', interface: 'eth0', pin: '0000', maxUploadMb: 10, minFreeMb: 0, ffmpeg: '/usr/bin/ffmpeg', maxTranscodes: 3, transcodeCacheMb: 0, localsendPort: 0, localsendSessionIdleS: 5, logLevel: 'debug', configFile: null });
  });

  it('reads every setting from HIFID_* variables', () => {
    const c = load([], { HIFID_DATA_DIR: '/d', HIFID_MUSIC_DIR: '/m', HIFID_PORT: '8300', HIFID_NAME: 'Den', HIFID_INTERFACE: 'eth0', HIFID_PIN: '0000', HIFID_MAX_UPLOAD_MB: '10', HIFID_MIN_FREE_MB: '0', HIFID_FFMPEG: '/usr/bin/ffmpeg', HIFID_MAX_TRANSCODES: '3', HIFID_TRANSCODE_CACHE_MB: '0', HIFID_LOCALSEND_PORT: '0', HIFID_LOCALSEND_SESSION_IDLE_S: '5', HIFID_LOG_LEVEL: 'debug' });
    assert.deepEqual({ ...c, musicDirs: [...c.musicDirs] }, { dataDir: '/d', musicDirs: ['/m'], port: 8300, name: 'Den', interface: 'eth0', pin: '0000', maxUploadMb: 10, minFreeMb: 0, ffmpeg: '/usr/bin/ffmpeg', maxTranscodes: 3, transcodeCacheMb: 0, localsendPort: 0, localsendSessionIdleS: 5, logLevel: 'debug', configFile: null });
  });

  it('ignores empty environment variables', () => {
    assert.equal(load([], { HIFID_PORT: '' }).port, 8200);
  });

  it('takes a repeatable --music-dir', () => {
    assert.deepEqual(load(['--music-dir', '/a', '--music-dir', '/b', '--music-dir', '/c']).musicDirs, ['/a', '/b', '/c']);
  });

  it('splits HIFID_MUSIC_DIR on ":" and skips empty entries', () => {
    assert.deepEqual(load([], { HIFID_MUSIC_DIR: '/x:/y::/z:' }).musicDirs, ['/x', '/y', '/z']);
  });

  it('lets --music-dir replace HIFID_MUSIC_DIR, not add to it', () => {
    assert.deepEqual(load(['--music-dir', '/flag'], { HIFID_MUSIC_DIR: '/env1:/env2' }).musicDirs, ['/flag']);
  });

  it('ranks file < environment < flags', () => {
    const f = file('prec.json', JSON.stringify({ port: 1111, name: 'from file', pin: '1', logLevel: 'warn' }));
    const fileOnly = load(['--config', f]);
    assert.deepEqual([fileOnly.port, fileOnly.name, fileOnly.pin, fileOnly.logLevel], [1111, 'from file', '1', 'warn']);
    const envOver = load(['--config', f], { HIFID_PORT: '2222', HIFID_NAME: 'from env' });
    assert.deepEqual([envOver.port, envOver.name, envOver.pin], [2222, 'from env', '1']);
    const flagOver = load(['--config', f, '--port', '3333'], { HIFID_PORT: '2222', HIFID_NAME: 'from env' });
    assert.deepEqual([flagOver.port, flagOver.name, flagOver.pin], [3333, 'from env', '1']);
    assert.equal(flagOver.configFile, f);
  });

  it('finds the config file through HIFID_CONFIG, relative to the working directory', () => {
    file('env.json', JSON.stringify({ musicDirs: ['/music'], maxUploadMb: 5 }));
    const c = load([], { HIFID_CONFIG: 'env.json' }, dir);
    assert.deepEqual(c.musicDirs, ['/music']);
    assert.equal(c.maxUploadMb, 5);
    assert.equal(c.configFile, path.join(dir, 'env.json'));
  });

  it('reports every error at once, each naming its key', () => {
    const p = problems(['--port', 'abc', '--bogus', '--max-upload-mb', '0']);
    assert.equal(p.length, 3, p.join('\n'));
    assert.match(p.find((x) => x.startsWith('--port'))!, /abc/);
    assert.ok(p.some((x) => x.startsWith('--bogus') && /unknown/.test(x)), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('--max-upload-mb')), p.join('\n'));
  });

  it('reports flag, environment and file problems together', () => {
    const f = file('mixed.json', JSON.stringify({ port: 'eighty', colour: 'blue' }));
    const p = problems(['--config', f, '--log-level', 'loud'], { HIFID_MIN_FREE_MB: '-1' });
    assert.equal(p.length, 4, p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('--log-level') && x.includes('loud')));
    assert.ok(p.some((x) => x.startsWith('HIFID_MIN_FREE_MB')));
    assert.ok(p.some((x) => x.includes(f) && x.includes('port')));
    assert.ok(p.some((x) => x.includes('colour') && /unknown setting/.test(x)));
  });

  const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--port'], {}, /^--port: needs a value/],
    [['--port', '0'], {}, /^--port: expected an integer from 1 to 65535/],
    [['--port', '65536'], {}, /^--port:/],
    [['--port', '1.5'], {}, /^--port:/],
    [['--port', '-1'], {}, /^--port: expected an integer from 1 to 65535, got "-1"/],
    [['--pin', ''], {}, /^--pin: expected a non-empty string/],
    [['--max-upload-mb', '0'], {}, /^--max-upload-mb:/],
    [['--min-free-mb', '1000000001'], {}, /^--min-free-mb:/],
    [['--log-level', 'LOUD'], {}, /^--log-level: expected one of/],
    [['stray'], {}, /^argument "stray": hifid takes no positional arguments/],
    [['--max-upload', '5'], {}, /^--max-upload: unknown option \(did you mean --max-upload-mb\?\)/],
    [[], { HIFID_PORT: 'abc' }, /^HIFID_PORT: expected an integer/],
    [[], { HIFID_LOG_LEVEL: 'chatty' }, /^HIFID_LOG_LEVEL:/],
  ];
  for (const [argv, env, want] of bad) {
    it(`refuses ${[...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}`, () => {
      const p = problems(argv, env);
      assert.ok(p.some((x) => want.test(x)), p.join('\n'));
    });
  }

  it('reports an unknown option followed by its value once, not its value as a stray argument', () => {
    assert.deepEqual(problems(['--prot', '8200']), ['--prot: unknown option']);
  });

  it('names the config file and the key for an unknown setting', () => {
    const f = file('unknown.json', JSON.stringify({ port: 8300, maxUploadMB: 5 }));
    const p = problems(['--config', f]);
    assert.deepEqual(p, [`${f}: maxUploadMB: unknown setting`]);
  });

  it('refuses configFile inside the config file', () => {
    const f = file('nested.json', JSON.stringify({ configFile: '/elsewhere.json' }));
    assert.deepEqual(problems(['--config', f]), [`${f}: configFile: unknown setting`]);
  });

  it('reports bad JSON with the file name', () => {
    const f = file('bad.json', '{ "port": 8300, }');
    const p = problems(['--config', f]);
    assert.equal(p.length, 1);
    assert.ok(p[0]!.startsWith(`--config ${f}:`), p[0]);
    assert.match(p[0]!, /JSON/);
  });

  it('reports a JSON file that is not an object', () => {
    const f = file('array.json', '[1, 2]');
    assert.deepEqual(problems(['--config', f]), [`--config ${f}: expected a JSON object`]);
  });

  it('reports a missing config file', () => {
    const p = problems(['--config', path.join(dir, 'nope.json')]);
    assert.equal(p.length, 1);
    assert.match(p[0]!, /nope\.json/);
    assert.match(p[0]!, /ENOENT|no such file/);
  });

  it('answers --help without validating anything else', () => {
    assert.deepEqual(loadConfig(['--help'], {}), { help: true });
    assert.deepEqual(loadConfig(['--port', 'abc', '--help'], { HIFID_PORT: 'x' }), { help: true });
  });

  it('documents every flag and its environment variable in --help', () => {
    const text = helpText();
    for (const flag of ['data-dir', 'music-dir', 'port', 'name', 'interface', 'config', 'pin', 'max-upload-mb', 'min-free-mb', 'ffmpeg', 'max-transcodes', 'transcode-cache-mb', 'log-level', 'help']) {
      assert.match(text, new RegExp(`--${flag}\\b`), flag);
    }
    for (const env of ['HIFID_DATA_DIR', 'HIFID_MUSIC_DIR', 'HIFID_PORT', 'HIFID_NAME', 'HIFID_INTERFACE', 'HIFID_CONFIG', 'HIFID_PIN', 'HIFID_MAX_UPLOAD_MB', 'HIFID_MIN_FREE_MB', 'HIFID_FFMPEG', 'HIFID_LOG_LEVEL']) {
      assert.ok(text.includes(env), env);
    }
  });
});
