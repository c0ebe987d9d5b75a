// Facts about this host's network: its addresses, the chosen interface, which peers count as LAN.
import { networkInterfaces } from 'node:os';
import { BlockList, isIP } from 'node:net';

export interface LocalAddress {
  iface: string;
  address: string;
  family: 'IPv4' | 'IPv6';
  netmask: string;
  cidr: string | null;
  internal: boolean;
}

export function localAddresses(): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const [iface, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      out.push({ iface, address: a.address, family: a.family, netmask: a.netmask, cidr: a.cidr, internal: a.internal });
    }
  }
  return out;
}

/** Strips the IPv4-mapped IPv6 prefix and a zone id so addresses compare exactly. */
export function normalizeIp(ip: string): string {
  let a = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  return a.toLowerCase();
}

const LAN = new BlockList();
LAN.addSubnet('10.0.0.0', 8, 'ipv4');
LAN.addSubnet('172.16.0.0', 12, 'ipv4');
LAN.addSubnet('192.168.0.0', 16, 'ipv4');
LAN.addSubnet('169.254.0.0', 16, 'ipv4');
LAN.addSubnet('127.0.0.0', 8, 'ipv4');
LAN.addSubnet('fc00::', 7, 'ipv6');
LAN.addSubnet('fe80::', 10, 'ipv6');
LAN.addAddress('::1', 'ipv6');

/** Private, link-local or loopback: the only sources allowed to change the library. */
export function isLanAddress(ip: string | undefined): boolean {
  if (!ip) return false;
  const a = normalizeIp(ip);
  const family = isIP(a);
  if (family === 0) return false;
  return LAN.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

/** Addresses to listen on: the chosen interface's (plus loopback for local tools), or every address. */
export function bindAddresses(iface: string | null): string[] | null {
  if (!iface) return null;
  const addrs = localAddresses().filter((a) => a.iface === iface && a.family === 'IPv4').map((a) => a.address);
  return addrs.length ? [...addrs, '127.0.0.1'] : [];
}

function ipv4ToInt(ip: string): number | null {
  if (isIP(ip) !== 4) return null;
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** True when `ip` is an IPv4 address inside `local`'s subnet (its address and netmask). */
export function inIpv4Subnet(ip: string, local: { address: string; netmask: string }): boolean {
  const a = ipv4ToInt(normalizeIp(ip));
  const l = ipv4ToInt(normalizeIp(local.address));
  const m = ipv4ToInt(local.netmask);
  if (a === null || l === null || m === null) return false;
  // `>>> 0` keeps the bitwise results unsigned so they compare as the same 32-bit numbers.
  return ((a & m) >>> 0) === ((l & m) >>> 0);
}

/** The network and broadcast addresses of `local`'s subnet, which are never a single host. */
export function isIpv4SubnetEdge(ip: string, local: { address: string; netmask: string }): boolean {
  const a = ipv4ToInt(normalizeIp(ip));
  const m = ipv4ToInt(local.netmask);
  if (a === null || m === null || m === 0xffffffff || m === 0xfffffffe) return false; // /32 and /31 have no such addresses
  const host = (a & ~m) >>> 0;
  return host === 0 || host === (~m >>> 0);
}
