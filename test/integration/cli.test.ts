// The command line as an administrator meets it: --help, configuration mistakes, a second instance.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TestDaemon, runDaemonOnce } from '../helpers/daemon.js';
import { testLan } from '../helpers/lan.js';

describe('command line', function () {
  it('--help exits 0 and lists every flag', async () => {
    const r = await runDaemonOnce(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: hifid/);
    for (const flag of ['--data-dir', '--music-dir', '--port', '--name', '--interface', '--config', '--pin', '--max-upload-mb', '--min-free-mb', '--ffmpeg', '--log-level', '--help']) {
      assert.ok(r.stdout.includes(flag), `${flag} missing from --help`);
    }
    assert.equal(r.stderr, '');
  });

  it('--port abc --bogus exits 2 and names both keys on stderr', async () => {
    const r = await runDaemonOnce(['--port', 'abc', '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--port: .*"abc"/);
    assert.match(r.stderr, /--bogus: unknown option/);
    assert.match(r.stderr, /Usage: hifid/, 'the usage follows the problems');
    assert.equal(r.stdout, '', 'nothing was started');
  });

  it('reports environment and flag problems in one run', async () => {
    const r = await runDaemonOnce(['--max-upload-mb', '0'], { HIFID_LOG_LEVEL: 'loud' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--max-upload-mb:/);
    assert.match(r.stderr, /HIFID_LOG_LEVEL:/);
  });

  it('a second daemon on the same data dir exits 3 and says why; the first keeps running', async () => {
    const first = await TestDaemon.start();
    try {
      const lan = testLan();
      const r = await runDaemonOnce(['--data-dir', first.dataDir, '--port', String(first.port + 1), '--interface', lan.iface, '--log-level', 'info']);
      assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout + r.stderr, /another hifid \(pid \d+\) is using this data dir/);
      assert.ok((r.stdout + r.stderr).includes(String(first.proc.pid)), 'names the running pid');
      assert.ok(existsSync(path.join(first.dataDir, 'state', 'hifid.lock')), 'the loser leaves the winner\'s lock alone');
      const status = await fetch(`${first.url}/api/v1/status`);
      assert.equal(status.status, 200, 'the first daemon is unharmed');
    } finally {
      await first.dispose();
    }
  });
});
