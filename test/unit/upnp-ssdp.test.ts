// The M-SEARCH parser and the answer decision, in process: a table of datagrams, in the style of gssdp.
import assert from 'node:assert/strict';
import { decideSearch, parseSearch, ReplyLimiter, servedAddresses } from '../../daemon/upnp/ssdp.js';
import type { LocalAddress } from '../../daemon/net.js';
import { inIpv4Subnet, isIpv4SubnetEdge } from '../../daemon/net.js';

const UDN = 'uuid:00000000-0000-4000-8000-000000000001';
const ADVERTISED = ['upnp:rootdevice', UDN, 'urn:schemas-upnp-org:device:MediaServer:1', 'urn:schemas-upnp-org:service:ConnectionManager:1'];
const OURS = new Set(['10.77.0.1']);
const noDelay = () => 0;

function search(lines: string[]): Buffer {
  return Buffer.from(['M-SEARCH * HTTP/1.1', ...lines, '', ''].join('\r\n'), 'latin1');
}

function decide(lines: string[], random: (max: number) => number = noDelay) {
  const req = parseSearch(search(lines));
  assert.ok(req, 'parses');
  return decideSearch(req, ADVERTISED, OURS, random);
}

describe('SSDP M-SEARCH', () => {
  const base = ['HOST: 239.255.255.250:1900', 'MAN: "ssdp:discover"', 'MX: 2'];

  it('answers ssdp:all with every advertised type, and a single type with itself', () => {
    const all = decide([...base, 'ST: ssdp:all']);
    assert.deepEqual(all.answer && all.targets, ADVERTISED);
    const one = decide([...base, `ST: ${UDN}`]);
    assert.deepEqual(one.answer && one.targets, [UDN]);
    const quoted = decide([...base, 'ST: "upnp:rootdevice"']);
    assert.deepEqual(quoted.answer && quoted.targets, ['upnp:rootdevice']);
  });

  it('waits a random 0..MX seconds, MX clamped to 5', () => {
    let asked = -1;
    const r = decide([...base.slice(0, 2), 'MX: 120', 'ST: ssdp:all'], (max) => ((asked = max), 1234));
    assert.equal(asked, 5000);
    assert.equal(r.answer && r.delayMs, 1234);
  });

  it('answers a unicast search (HOST is our address) at once, with or without MX', () => {
    const r = decide(['HOST: 10.77.0.1:1900', 'MAN: "ssdp:discover"', 'ST: upnp:rootdevice'], () => 999);
    assert.ok(r.answer);
    assert.equal(r.delayMs, 0);
    assert.equal(r.unicast, true);
  });

  const refused: Array<[string, string[]]> = [
    ['no MAN', ['HOST: 239.255.255.250:1900', 'MX: 1', 'ST: ssdp:all']],
    ['unquoted MAN', ['MAN: ssdp:discover', 'MX: 1', 'ST: ssdp:all']],
    ['other MAN', ['MAN: "ssdp:alive"', 'MX: 1', 'ST: ssdp:all']],
    ['no MX on multicast', ['HOST: 239.255.255.250:1900', 'MAN: "ssdp:discover"', 'ST: ssdp:all']],
    ['MX abc', ['MAN: "ssdp:discover"', 'MX: abc', 'ST: ssdp:all']],
    ['MX 0', ['MAN: "ssdp:discover"', 'MX: 0', 'ST: ssdp:all']],
    ['MX -1', ['MAN: "ssdp:discover"', 'MX: -1', 'ST: ssdp:all']],
    ['MX 1.5', ['MAN: "ssdp:discover"', 'MX: 1.5', 'ST: ssdp:all']],
    ['no ST', ['MAN: "ssdp:discover"', 'MX: 1']],
    ['empty ST', ['MAN: "ssdp:discover"', 'MX: 1', 'ST:']],
    ['regex ST (node-ssdp allowWildcards)', ['MAN: "ssdp:discover"', 'MX: 1', 'ST: urn:.*']],
    ['wildcard ST', ['MAN: "ssdp:discover"', 'MX: 1', 'ST: *']],
    ['a type we do not have', ['MAN: "ssdp:discover"', 'MX: 1', 'ST: urn:schemas-upnp-org:device:MediaRenderer:1']],
    ['a later version', ['MAN: "ssdp:discover"', 'MX: 1', 'ST: urn:schemas-upnp-org:device:MediaServer:2']],
    ['a unicast HOST that is not ours, without MX', ['HOST: 10.77.0.9:1900', 'MAN: "ssdp:discover"', 'ST: ssdp:all']],
  ];
  for (const [what, lines] of refused) {
    it(`does not answer: ${what}`, () => assert.equal(decide(lines).answer, false));
  }

  const malformed: Array<[string, Buffer]> = [
    ['a NUL byte', Buffer.from('M-SEARCH * HTTP/1.1\r\nMAN: "ssdp:discover"\0\r\nMX: 1\r\nST: ssdp:all\r\n\r\n')],
    ['a line without a colon', search(['MAN: "ssdp:discover"', 'garbage', 'MX: 1', 'ST: ssdp:all'])],
    ['an empty header name', search([': x', 'MAN: "ssdp:discover"', 'MX: 1', 'ST: ssdp:all'])],
    ['two ST headers', search(['MAN: "ssdp:discover"', 'MX: 1', 'ST: ssdp:all', 'ST: upnp:rootdevice'])],
    ['64 KB', Buffer.concat([search(['MAN: "ssdp:discover"', 'MX: 1', 'ST: ssdp:all']), Buffer.alloc(65000, 0x20)])],
    ['too many headers', search([...Array.from({ length: 40 }, (_, i) => `X-${i}: y`), 'MAN: "ssdp:discover"', 'MX: 1', 'ST: ssdp:all'])],
    ['another method', Buffer.from('NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\n\r\n')],
    ['a wrong request line', Buffer.from('M-SEARCH / HTTP/1.1\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n')],
    ['nothing', Buffer.alloc(0)],
  ];
  for (const [what, msg] of malformed) {
    it(`rejects a datagram with ${what}`, () => assert.equal(parseSearch(msg), null));
  }

  it('reads invalid UTF-8 without throwing (and finds no valid fields in it)', () => {
    const msg = Buffer.concat([Buffer.from('M-SEARCH * HTTP/1.1\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\r\n\r\n')]);
    const req = parseSearch(msg);
    assert.ok(req);
    assert.equal(decideSearch(req, ADVERTISED, OURS).answer, false);
  });
});

describe('SSDP reply limiter', () => {
  it('lets a burst of 20 through, then about 20 a second, per source', () => {
    const l = new ReplyLimiter(20);
    let t = 1_000_000;
    let n = 0;
    for (let i = 0; i < 100; i++) if (l.take('10.77.0.2', 1, t)) n++;
    assert.equal(n, 20);
    assert.equal(l.take('10.77.0.3', 6, t), true, 'another source has its own bucket');
    t += 500;
    n = 0;
    for (let i = 0; i < 100; i++) if (l.take('10.77.0.2', 1, t)) n++;
    assert.equal(n, 10);
  });

  it('takes all replies of one search or none', () => {
    const l = new ReplyLimiter(20);
    assert.equal(l.take('a', 18, 0), true);
    assert.equal(l.take('a', 6, 0), false);
    assert.equal(l.take('a', 2, 0), true);
  });

  it('stays bounded with many sources', () => {
    const l = new ReplyLimiter(20, 8);
    for (let i = 0; i < 8; i++) assert.equal(l.take(`s${i}`, 1, 0), true);
    assert.equal(l.take('late', 1, 10), false, 'full of live sources');
    assert.equal(l.take('later', 1, 5000), true, 'stale ones pruned');
  });
});

describe('served interfaces and subnets', () => {
  const addrs: LocalAddress[] = [
    { iface: 'lo', address: '127.0.0.1', family: 'IPv4', netmask: '255.0.0.0', cidr: '127.0.0.1/8', internal: true },
    { iface: 'hifi0', address: '10.77.0.1', family: 'IPv4', netmask: '255.255.255.0', cidr: '10.77.0.1/24', internal: false },
    { iface: 'hifi0', address: 'fe80::1', family: 'IPv6', netmask: 'ffff:ffff:ffff:ffff::', cidr: 'fe80::1/64', internal: false },
    { iface: 'wlan0', address: '192.168.1.5', family: 'IPv4', netmask: '255.255.255.0', cidr: '192.168.1.5/24', internal: false },
  ];

  it('serves the IPv4 addresses of --interface, or of every non-loopback interface', () => {
    assert.deepEqual(servedAddresses('hifi0', addrs).map((a) => a.address), ['10.77.0.1']);
    assert.deepEqual(servedAddresses(null, addrs).map((a) => a.address), ['10.77.0.1', '192.168.1.5']);
    assert.deepEqual(servedAddresses('eth9', addrs), []);
  });

  it('matches sources against the subnet, never off it (D5: 203.0.113.5)', () => {
    const hifi = addrs[1]!;
    assert.equal(inIpv4Subnet('10.77.0.2', hifi), true);
    assert.equal(inIpv4Subnet('::ffff:10.77.0.200', hifi), true);
    assert.equal(inIpv4Subnet('203.0.113.5', hifi), false);
    assert.equal(inIpv4Subnet('10.77.1.2', hifi), false);
    assert.equal(inIpv4Subnet('fe80::2', hifi), false);
    assert.equal(inIpv4Subnet('not an ip', hifi), false);
    assert.equal(inIpv4Subnet('10.200.3.4', { address: '10.0.0.1', netmask: '255.0.0.0' }), true);
  });

  it('knows the network and broadcast addresses of a subnet', () => {
    const hifi = addrs[1]!;
    assert.equal(isIpv4SubnetEdge('10.77.0.0', hifi), true);
    assert.equal(isIpv4SubnetEdge('10.77.0.255', hifi), true);
    assert.equal(isIpv4SubnetEdge('10.77.0.2', hifi), false);
    assert.equal(isIpv4SubnetEdge('10.77.0.1', { address: '10.77.0.1', netmask: '255.255.255.255' }), false);
  });
});
