// LocalSend receive sessions: one at a time, a token per accepted file, uploads only from the
// sender's address, a few attempts per file, and an idle deadline after which the session ends and
// uploads still running are aborted (ingest then removes their partial files).
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FileDto } from './dto.js';

/** 1.18 lets a sender retry a file's token this many times in all (`MAX_UPLOAD_ATTEMPTS`). */
export const MAX_UPLOAD_ATTEMPTS = 3;

export type FileState = 'waiting' | 'receiving' | 'done' | 'failed';

export interface SessionFile {
  readonly dto: FileDto;
  readonly token: string;
  state: FileState;
  attempts: number;
}

export interface Sender {
  ip: string;
  /** The "Pushed From" name: the sender's alias. */
  device: string;
  fingerprint: string;
}

export type EndReason = 'finished' | 'cancelled' | 'expired' | 'stopped';

export interface Session {
  readonly id: string;
  readonly sender: Sender;
  readonly files: ReadonlyMap<string, SessionFile>;
}

/** A refusal with the HTTP status LocalSend expects for it. */
export class SessionError extends Error {
  constructor(
    readonly status: 403 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'SessionError';
  }
}

/** One running upload: its file, a signal that fires when the session ends under it, and its outcome. */
export interface Upload {
  readonly session: Session;
  readonly file: SessionFile;
  readonly signal: AbortSignal;
  /** Bytes arrived: the session is not idle. */
  touch(): void;
  /** `retryable`: the sender may try this file again (a checksum or transfer failure). */
  finish(outcome: { ok: true } | { ok: false; retryable: boolean }): void;
}

interface LiveSession extends Session {
  readonly files: Map<string, SessionFile>;
  lastActivity: number;
  readonly running: Set<AbortController>;
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface SessionOptions {
  idleMs: number;
  now?: () => number;
  onEnd?: (session: Session, reason: EndReason) => void;
}

export class ReceiveSessions {
  private current: LiveSession | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: SessionOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, this.opts.idleMs / 4)));
    this.timer.unref();
  }

  /** Ends the session (aborting its uploads) and stops the idle timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.current) this.end(this.current, 'stopped');
  }

  /** The session in progress, if it has not gone idle. */
  active(): Session | null {
    this.sweep();
    return this.current;
  }

  /** Starts a session for these accepted files; 409 while another one runs. */
  open(sender: Sender, files: readonly FileDto[]): Session {
    if (this.active()) throw new SessionError(409, 'another transfer is in progress; try again when it is done');
    const map = new Map<string, SessionFile>();
    for (const f of files) map.set(f.id, { dto: f, token: randomBytes(18).toString('base64url'), state: 'waiting', attempts: 0 });
    const session: LiveSession = { id: randomUUID(), sender, files: map, lastActivity: this.now(), running: new Set() };
    this.current = session;
    return session;
  }

  /**
   * Checks an upload request and marks its file as receiving. 403 for a wrong session, token, file
   * or sender address (nothing is revealed about which); 409 for a file already received or running.
   */
  begin(q: { sessionId: string; fileId: string; token: string; ip: string }): Upload {
    const s = this.active() as LiveSession | null;
    const file = s?.files.get(q.fileId);
    if (!s || s.id !== q.sessionId || s.sender.ip !== q.ip || !file || !sameToken(q.token, file.token)) {
      throw new SessionError(403, 'invalid session, file, token or sender address');
    }
    if (file.state === 'done') throw new SessionError(409, 'this file was already received');
    if (file.state === 'receiving') throw new SessionError(409, 'this file is being received already');
    if (file.state === 'failed') throw new SessionError(403, 'this file failed too often; start a new transfer');
    file.state = 'receiving';
    file.attempts++;
    s.lastActivity = this.now();
    const abort = new AbortController();
    s.running.add(abort);
    let finished = false;
    return {
      session: s,
      file,
      signal: abort.signal,
      touch: () => {
        s.lastActivity = this.now();
      },
      finish: (outcome) => {
        if (finished) return;
        finished = true;
        s.running.delete(abort);
        s.lastActivity = this.now();
        if (this.current !== s) return; // the session ended meanwhile
        file.state = outcome.ok ? 'done' : outcome.retryable && file.attempts < MAX_UPLOAD_ATTEMPTS ? 'waiting' : 'failed';
        if ([...s.files.values()].every((f) => f.state === 'done' || f.state === 'failed')) this.end(s, 'finished');
      },
    };
  }

  /**
   * `/cancel` from the sender: with no id, its session whatever the id. Returns false when there is
   * no such session (already over); throws 403 when someone else asks.
   */
  cancel(sessionId: string | null, ip: string): boolean {
    const s = this.active() as LiveSession | null;
    if (!s || (sessionId !== null && s.id !== sessionId)) return false;
    if (s.sender.ip !== ip) throw new SessionError(403, 'only the sender may cancel its transfer');
    this.end(s, 'cancelled');
    return true;
  }

  /** Ends the session once nothing (no request, no bytes) has happened for `idleMs`. */
  sweep(): void {
    const s = this.current;
    if (s && this.now() - s.lastActivity > this.opts.idleMs) this.end(s, 'expired');
  }

  private end(s: LiveSession, reason: EndReason): void {
    if (this.current === s) this.current = null;
    for (const a of s.running) a.abort(new Error(`the transfer was ${reason === 'expired' ? 'idle too long' : reason}`));
    s.running.clear();
    this.opts.onEnd?.(s, reason);
  }
}
