// Starts the real daemon (dist/hifid.js, the bundle that ships) as a child process inside the test LAN.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './fixtures.js';
import { testLan } from './lan.js';

/** The daemon as it ships: one bundle (scripts/build-daemon.mjs). */
export const DAEMON_JS = path.join(REPO_ROOT, 'dist', 'hifid.js');

export interface DaemonOptions {
  dataDir?: string;
  args?: string[];
  env?: Record<string, string>;
  port?: number;
}

/**
 * The environment and node flags of the daemon's first line (`#!/usr/bin/env -S NAME=VALUE… node FLAG…`),
 * so tests and benchmarks run it as its shebang, npm start and systemd do.
 */
export function daemonRuntime(mainJs = DAEMON_JS): { env: Record<string, string>; nodeFlags: string[] } {
  const first = readFileSync(mainJs, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S (.*)$/.exec(first);
  if (!m) throw new Error(`${mainJs}: no "#!/usr/bin/env -S" line`);
  const words = m[1]!.trim().split(/\s+/);
  const node = words.indexOf('node');
  if (node < 0) throw new Error(`${mainJs}: the first line does not run node`);
  const env = Object.fromEntries(words.slice(0, node).map((w) => w.split('=', 2) as [string, string]));
  return { env, nodeFlags: words.slice(node + 1) };
}

/**
 * Arguments that turn back on what TestDaemon turns off (LocalSend: its port is fixed), for
 * benchmarks that measure a daemon as it runs by default.
 */
export const DEFAULT_SERVICES: readonly string[] = ['--localsend-port', '53317'];

let nextPort = 18200 + (process.pid % 500) * 2;

export class TestDaemon {
  readonly url: string;
  readonly logs: Array<Record<string, unknown>> = [];
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly proc: ChildProcess,
    readonly dataDir: string,
    readonly port: number,
    private readonly ownsDir: boolean,
  ) {
    this.url = `http://${testLan().stereo}:${port}`;
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve((this.exitCode = code))));
  }

  static async start(opts: DaemonOptions = {}): Promise<TestDaemon> {
    const lan = testLan();
    const ownsDir = !opts.dataDir;
    const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'hifid-test-'));
    const port = opts.port ?? nextPort++;
    // LocalSend is off unless a test turns it on (`--localsend-port 53317`): its port is fixed by the
    // apps, and two daemons at once (lock tests) would fight over it.
    const args = [DAEMON_JS, '--data-dir', dataDir, '--port', String(port), '--interface', lan.iface, '--name', 'Living-room Hi-Fi', '--log-level', 'debug', '--localsend-port', '0', ...(opts.args ?? [])];
    const runtime = daemonRuntime();
    const proc = spawn(process.execPath, [...runtime.nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...runtime.env, ...opts.env } });
    const d = new TestDaemon(proc, dataDir, port, ownsDir);
    let stderr = '';
    proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout! });
      rl.on('line', (line) => {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          d.logs.push(entry);
          if (entry.msg === 'hifid ready') resolve();
        } catch {
          d.logs.push({ raw: line });
        }
      });
      proc.once('exit', (code) => reject(new Error(`daemon exited with ${code} before it was ready:\n${stderr}\n${d.logs.map((l) => JSON.stringify(l)).join('\n')}`)));
    });
    return d;
  }

  /** Resolves when a log line with this message (and matching fields) has been seen. */
  async waitForLog(msg: string, timeoutMs = 10_000, match: (e: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find((e) => e.msg === msg && match(e));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no log "${msg}" within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits until the background scan at start-up is done. */
  async idle(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = (await (await fetch(`${this.url}/api/v1/status`)).json()) as { scanning: boolean };
      if (!s.scanning) return;
      if (Date.now() > deadline) throw new Error('daemon still scanning');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) this.proc.kill('SIGTERM');
    const code = await this.exited;
    return code;
  }

  async kill9(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Stops the daemon and removes its data dir if the test did not provide one. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Runs the daemon to completion with these arguments (for --help and config errors). */
export function runDaemonOnce(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [DAEMON_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
