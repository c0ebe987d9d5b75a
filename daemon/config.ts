// Configuration: embedded defaults ← JSON config file ← HIFID_* environment ← command-line flags.
// Every problem is collected and reported at once, each naming its key; the result is frozen.
import { readFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export interface Config {
  readonly dataDir: string;
  readonly musicDirs: readonly string[];
  readonly port: number;
  readonly name: string;
  /** The one interface to serve and advertise on; null = every non-loopback interface. */
  readonly interface: string | null;
  readonly pin: string | null;
  readonly maxUploadMb: number;
  /** Pushes are refused (507) when the data disk has less than this free. */
  readonly minFreeMb: number;
  /** Explicit ffmpeg binary; null = ffmpeg-static, then PATH. */
  readonly ffmpeg: string | null;
  /** ffmpeg processes running at once (streams and downloads); more wait briefly, then get 503. */
  readonly maxTranscodes: number;
  /** Size bound of <data-dir>/state/transcode-cache (least recently used go first); 0 = no cache. */
  readonly transcodeCacheMb: number;
  /** LocalSend receiver port (HTTPS and multicast discovery; the apps expect 53317); 0 = off. */
  readonly localsendPort: number;
  /** A LocalSend session with no request and no bytes for this long ends; unfinished files are dropped. */
  readonly localsendSessionIdleS: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly configFile: string | null;
}

type Kind = 'string' | 'int' | 'list' | 'level';

interface Option {
  key: keyof Config;
  flag: string;
  env: string;
  kind: Kind;
  help: string;
  min?: number;
  max?: number;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const OPTIONS: readonly Option[] = [
  { key: 'dataDir', flag: 'data-dir', env: 'HIFID_DATA_DIR', kind: 'string', help: 'where tracks, catalogue and state live' },
  { key: 'musicDirs', flag: 'music-dir', env: 'HIFID_MUSIC_DIR', kind: 'list', help: 'existing music folder to index read-only (repeatable; env: separated by ":")' },
  { key: 'port', flag: 'port', env: 'HIFID_PORT', kind: 'int', min: 1, max: 65535, help: 'HTTP port (default 8200)' },
  { key: 'name', flag: 'name', env: 'HIFID_NAME', kind: 'string', help: 'friendly name shown on the network' },
  { key: 'interface', flag: 'interface', env: 'HIFID_INTERFACE', kind: 'string', help: 'the one network interface to serve and advertise on (default: all non-loopback)' },
  { key: 'configFile', flag: 'config', env: 'HIFID_CONFIG', kind: 'string', help: 'JSON file with any of these settings (camelCase keys)' },
  { key: 'pin', flag: 'pin', env: 'HIFID_PIN', kind: 'string', help: 'PIN required for pushes and deletes' },
  { key: 'maxUploadMb', flag: 'max-upload-mb', env: 'HIFID_MAX_UPLOAD_MB', kind: 'int', min: 1, max: 1_000_000, help: 'largest accepted push in MB (default 2048)' },
  { key: 'minFreeMb', flag: 'min-free-mb', env: 'HIFID_MIN_FREE_MB', kind: 'int', min: 0, max: 1_000_000_000, help: 'free space kept on the data disk in MB (default 64)' },
  { key: 'ffmpeg', flag: 'ffmpeg', env: 'HIFID_FFMPEG', kind: 'string', help: 'path to the ffmpeg binary' },
  { key: 'maxTranscodes', flag: 'max-transcodes', env: 'HIFID_MAX_TRANSCODES', kind: 'int', min: 1, max: 64, help: 'ffmpeg transcodes running at once (default 2)' },
  { key: 'transcodeCacheMb', flag: 'transcode-cache-mb', env: 'HIFID_TRANSCODE_CACHE_MB', kind: 'int', min: 0, max: 1_000_000, help: 'disk kept for finished transcodes in MB, 0 = none (default 1024)' },
  { key: 'localsendPort', flag: 'localsend-port', env: 'HIFID_LOCALSEND_PORT', kind: 'int', min: 0, max: 65535, help: 'LocalSend receiver port, 0 = off (default 53317)' },
  { key: 'localsendSessionIdleS', flag: 'localsend-session-idle-s', env: 'HIFID_LOCALSEND_SESSION_IDLE_S', kind: 'int', min: 1, max: 3600, help: 'idle seconds before a LocalSend transfer is given up (default 60)' },
  { key: 'logLevel', flag: 'log-level', env: 'HIFID_LOG_LEVEL', kind: 'level', help: `log level: ${LEVELS.join(', ')} (default info)` },
];

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * The package root: the nearest folder above this module with a package.json. This module runs
 * from the bundle (dist/hifid.js) and, in unit tests, from tsc's dist/daemon/config.js.
 */
export const PACKAGE_ROOT = ((): string => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(here, '..', '..');
  }
})();

function defaultDataDir(env: NodeJS.ProcessEnv): string {
  // systemd's StateDirectory= hands us the right place; a git checkout keeps its data beside it.
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(':')[0]!;
  if (existsSync(path.join(PACKAGE_ROOT, '.git'))) return path.join(PACKAGE_ROOT, 'var');
  const base = env.XDG_DATA_HOME || path.join(env.HOME || '/var/lib', '.local', 'share');
  return path.join(base, 'hifid');
}

export function defaults(env: NodeJS.ProcessEnv): Config {
  return {
    dataDir: defaultDataDir(env),
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
  };
}

export function helpText(): string {
  const lines = OPTIONS.map((o) => {
    const arg = o.kind === 'int' ? ' N' : o.kind === 'list' ? ' DIR' : o.kind === 'level' ? ' LEVEL' : o.key === 'configFile' ? ' FILE' : ' VALUE';
    return `  --${(o.flag + arg).padEnd(22)} ${o.help}  [${o.env}]`;
  });
  return ['Usage: hifid [options]', '', 'Options:', ...lines, '  --help                 show this help', ''].join('\n');
}

type Raw = Partial<Record<keyof Config, unknown>>;

/** Turns one raw value into a typed one, or records a problem naming `where`. */
function coerce(o: Option, value: unknown, where: string, problems: string[]): unknown {
  switch (o.kind) {
    case 'string':
      if (typeof value !== 'string' || value.length === 0) {
        problems.push(`${where}: expected a non-empty string`);
        return undefined;
      }
      return value;
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n) || n < (o.min ?? -Infinity) || n > (o.max ?? Infinity)) {
        problems.push(`${where}: expected an integer from ${o.min} to ${o.max}, got ${JSON.stringify(value)}`);
        return undefined;
      }
      return n;
    }
    case 'list': {
      const list = Array.isArray(value) ? value : [value];
      if (!list.every((v) => typeof v === 'string' && v.length > 0)) {
        problems.push(`${where}: expected folder paths`);
        return undefined;
      }
      return list;
    }
    case 'level':
      if (typeof value !== 'string' || !(LEVELS as readonly string[]).includes(value)) {
        problems.push(`${where}: expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
        return undefined;
      }
      return value;
  }
}

function fromFlags(argv: readonly string[], problems: string[]): { raw: Raw; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' } };
  for (const o of OPTIONS) options[o.flag] = { type: 'string', multiple: o.kind === 'list' };
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const raw: Raw = {};
  let help = false;
  // `--unknwn value`: the value belongs to the unknown option; one problem, not two.
  let skipIndex = -1;
  for (const t of tokens ?? []) {
    if (t.kind === 'positional') {
      if (t.index === skipIndex) continue;
      problems.push(`argument ${JSON.stringify(t.value)}: hifid takes no positional arguments`);
      continue;
    }
    if (t.kind !== 'option') continue;
    if (t.name === 'help') {
      help = true;
      continue;
    }
    const o = OPTIONS.find((x) => x.flag === t.name);
    if (!o) {
      const near = OPTIONS.find((x) => x.flag.startsWith(t.name.slice(0, 3)));
      problems.push(`--${t.name}: unknown option${near ? ` (did you mean --${near.flag}?)` : ''}`);
      if (!t.inlineValue) skipIndex = t.index + 1;
      continue;
    }
    if (t.value === undefined) {
      problems.push(`--${o.flag}: needs a value`);
      continue;
    }
    const v = coerce(o, t.value, `--${o.flag}`, problems);
    if (v === undefined) continue;
    raw[o.key] = o.kind === 'list' ? [...((raw[o.key] as string[] | undefined) ?? []), ...(v as string[])] : v;
  }
  return { raw, help };
}

function fromEnv(env: NodeJS.ProcessEnv, problems: string[]): Raw {
  const raw: Raw = {};
  for (const o of OPTIONS) {
    const value = env[o.env];
    if (value === undefined || value === '') continue;
    const v = coerce(o, o.kind === 'list' ? value.split(':').filter(Boolean) : value, o.env, problems);
    if (v !== undefined) raw[o.key] = v;
  }
  return raw;
}

function fromFile(file: string, problems: string[]): Raw {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`--config ${file}: ${(err as Error).message}`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`--config ${file}: expected a JSON object`);
    return {};
  }
  const raw: Raw = {};
  for (const [key, value] of Object.entries(parsed)) {
    const o = OPTIONS.find((x) => x.key === key);
    if (!o || o.key === 'configFile') {
      problems.push(`${file}: ${key}: unknown setting`);
      continue;
    }
    const v = coerce(o, value, `${file}: ${key}`, problems);
    if (v !== undefined) raw[o.key] = v;
  }
  return raw;
}

export type LoadResult = { help: true } | { help: false; config: Config };

/** Throws ConfigError listing every problem found. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): LoadResult {
  const problems: string[] = [];
  const flags = fromFlags(argv, problems);
  if (flags.help) return { help: true };
  const envRaw = fromEnv(env, problems);
  const configFile = (flags.raw.configFile ?? envRaw.configFile) as string | undefined;
  const fileRaw = configFile ? fromFile(path.resolve(cwd, configFile), problems) : {};
  const merged = { ...defaults(env), ...fileRaw, ...envRaw, ...flags.raw } as Config;
  if (problems.length) throw new ConfigError(problems);
  return {
    help: false,
    config: Object.freeze({
      ...merged,
      dataDir: path.resolve(cwd, merged.dataDir),
      musicDirs: Object.freeze(merged.musicDirs.map((d) => path.resolve(cwd, d))),
      configFile: configFile ? path.resolve(cwd, configFile) : null,
    }),
  };
}
