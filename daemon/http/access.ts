// Who may change the library: LAN sources only, same-origin only (CSRF), and the PIN when one is set.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Context } from 'koa';
import { isLanAddress, normalizeIp } from '../net.js';
import { ApiError } from './errors.js';
import { isAllowedHost, type HostPolicy } from './host-check.js';

export interface WritePolicy {
  pin: string | null;
  hosts: HostPolicy;
  /** Wrong PINs per source address, to slow down guessing. */
  pinFailures: Map<string, { count: number; since: number }>;
}

function sameSecret(a: string, b: string): boolean {
  // Compare digests so neither the length nor the content leaks through timing.
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

const MAX_PIN_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;

/** The PIN a request carries, from `X-Hifid-Pin` or `?pin=`. */
export function requestPin(ctx: Context): string | null {
  const h = ctx.get('X-Hifid-Pin');
  if (h) return h;
  const q = ctx.query.pin;
  return typeof q === 'string' && q ? q : null;
}

/** Throws unless the request may change the library. */
export function assertMayWrite(ctx: Context, policy: WritePolicy): void {
  const ip = clientAddress(ctx);
  if (!isLanAddress(ip)) throw new ApiError(403, 'not_lan', 'changes are accepted only from the home network');
  const origin = ctx.get('Origin');
  if (origin) {
    let host: string | null = null;
    try {
      host = new URL(origin).host;
    } catch {
      host = null;
    }
    // A page from elsewhere posting a form to the stereo (CSRF) carries its own Origin.
    if (!host || !isAllowedHost(host, policy.hosts)) throw new ApiError(403, 'cross_origin', 'requests from other web sites are refused');
  }
  if (policy.pin === null) return;
  const failures = policy.pinFailures;
  const f = failures.get(ip);
  if (f && Date.now() - f.since < FAILURE_WINDOW_MS && f.count >= MAX_PIN_FAILURES) {
    throw new ApiError(429, 'too_many_attempts', 'too many wrong PINs; wait a minute');
  }
  const given = requestPin(ctx);
  if (given === null) throw new ApiError(401, 'pin_required', 'this stereo asks for a PIN (X-Hifid-Pin header or ?pin=)');
  if (!sameSecret(given, policy.pin)) {
    const entry = f && Date.now() - f.since < FAILURE_WINDOW_MS ? f : { count: 0, since: Date.now() };
    entry.count++;
    failures.set(ip, entry);
    throw new ApiError(403, 'wrong_pin', 'wrong PIN');
  }
  failures.delete(ip);
}

/** The address a request came from (IPv4-mapped IPv6 unwrapped): what LAN checks and per-client memories key on. */
export function clientAddress(ctx: Context): string {
  return normalizeIp(ctx.socket.remoteAddress ?? '');
}
