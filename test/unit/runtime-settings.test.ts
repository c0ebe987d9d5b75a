// The daemon's memory settings live in its first line; npm start and the systemd unit must start it the same way.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { daemonRuntime } from '../helpers/daemon.js';

describe('runtime settings', () => {
  const { env, nodeFlags } = daemonRuntime(path.join(REPO_ROOT, 'daemon', 'main.ts'));

  it('the shebang caps the young generation and the malloc arenas, and fixes the mmap threshold', () => {
    assert.ok(nodeFlags.some((f) => /^--max-semi-space-size=\d+$/.test(f)), nodeFlags.join(' '));
    assert.ok(Number(env.MALLOC_ARENA_MAX) >= 1, JSON.stringify(env));
    assert.ok(Number(env.MALLOC_MMAP_THRESHOLD_) >= 4096, JSON.stringify(env));
  });

  it('npm start uses the same environment and flags', () => {
    const start = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const envPart = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
    assert.equal(start, `${envPart} node ${nodeFlags.join(' ')} dist/hifid.js`);
  });

  it('the systemd unit uses the same environment and flags', () => {
    const unit = readFileSync(path.join(REPO_ROOT, 'systemd', 'hifid.service'), 'utf8');
    for (const [k, v] of Object.entries(env)) assert.match(unit, new RegExp(`^Environment=${k}=${v}$`, 'm'));
    const exec = /^ExecStart=\/usr\/bin\/env node (.*) \/opt\/hifid\/dist\/hifid\.js /m.exec(unit);
    assert.ok(exec, 'ExecStart runs node on dist/hifid.js');
    assert.equal(exec[1], nodeFlags.join(' '));
  });
});
