// Host-header validation against DNS rebinding (CVE-2022-26505 class): the Host must be exactly one
// of this host's IP literals, `localhost`, or one of its own `.local` names. Parsed, never substring-matched.
import { isIP } from 'node:net';
import { normalizeIp } from '../net.js';

export interface ParsedHost {
  host: string;
  port: number | null;
}

/** Parses `name`, `name:port`, `1.2.3.4:port`, `[v6]:port`; null when malformed. */
export function parseHostHeader(value: string | undefined): ParsedHost | null {
  if (!value || value.length > 255 || /[\s,/@\\]/.test(value)) return null;
  let host: string;
  let portText: string | undefined;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return null;
    host = value.slice(1, end);
    const rest = value.slice(end + 1);
    if (rest && !rest.startsWith(':')) return null;
    portText = rest ? rest.slice(1) : undefined;
    // No zone ids (`%25eth0`): browsers never send them, and they would let one address pose as another.
    if (host.includes('%') || isIP(host) !== 6) return null;
  } else {
    const parts = value.split(':');
    if (parts.length > 2) return null;
    host = parts[0]!;
    portText = parts[1];
  }
  if (!host) return null;
  let port: number | null = null;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port < 1 || port > 65535) return null;
  }
  return { host: host.toLowerCase().replace(/\.$/, ''), port };
}

export interface HostPolicy {
  /** This host's addresses right now (normalized). */
  addresses(): ReadonlySet<string>;
  /** Names this host answers to: `localhost`, its `.local` names. Lower case. */
  names(): ReadonlySet<string>;
}

export function isAllowedHost(value: string | undefined, policy: HostPolicy): boolean {
  const parsed = parseHostHeader(value);
  if (!parsed) return false;
  const { host } = parsed;
  if (isIP(host)) {
    const ip = normalizeIp(host);
    // 0.0.0.0 and :: are never a real destination; a browser using them is being tricked.
    if (ip === '0.0.0.0' || ip === '::') return false;
    return policy.addresses().has(ip);
  }
  // Only dotted-quad literals count as IPs: "2130706433" or "0x7f.1" are names, and not ours.
  return policy.names().has(host);
}
