// Host header validation (DNS rebinding): a table of Host values, in the style of gupnp's test-bugs.c.
import assert from 'node:assert/strict';
import { isAllowedHost, parseHostHeader, type HostPolicy } from '../../daemon/http/host-check.js';

const policy: HostPolicy = {
  addresses: () => new Set(['10.77.0.1', '127.0.0.1', '::1', 'fe80::1']),
  names: () => new Set(['localhost', 'stereo.local']),
};

describe('isAllowedHost', () => {
  const allowed = [
    '10.77.0.1',
    '10.77.0.1:8200',
    '127.0.0.1:8200',
    '[::1]:8200',
    '[::1]',
    'localhost',
    'localhost:8200',
    'LOCALHOST:8200',
    'stereo.local',
    'Stereo.Local:8200',
    'stereo.local.',
    'localhost:65535',
  ];
  for (const h of allowed) {
    it(`allows ${JSON.stringify(h)}`, () => assert.equal(isAllowedHost(h, policy), true));
  }

  const rejected: Array<[string | undefined, string]> = [
    ['evil.example', 'a foreign name (the rebinding attacker)'],
    ['evil.example:8200', 'a foreign name with our port'],
    ['127.0.0.1.evil.example', 'our IP as a prefix of a foreign name'],
    ['10.77.0.1.evil.example:8200', 'our LAN IP as a prefix of a foreign name'],
    ['localhost.evil.example', 'localhost as a prefix'],
    ['evil-stereo.local', 'someone else\'s .local name'],
    ['0.0.0.0:8200', 'the unspecified address'],
    ['0.0.0.0', 'the unspecified address, no port'],
    ['[::]:8200', 'the IPv6 unspecified address'],
    ['2130706433', '127.0.0.1 as a decimal integer'],
    ['0x7f.0.0.1', 'hexadecimal octet'],
    ['0177.0.0.1', 'octal octet'],
    ['127.1', 'short dotted form'],
    ['10.77.0.2', 'an address that is not ours'],
    ['127.0.0.1:99999', 'port out of range'],
    ['127.0.0.1:0', 'port zero'],
    ['127.0.0.1:', 'empty port'],
    ['127.0.0.1:80a', 'non-numeric port'],
    ['localhost:65536', 'port just out of range'],
    ['[fe80::1%25lo]', 'IPv6 literal with a zone id (URI-encoded)'],
    ['[fe80::1%lo]', 'IPv6 literal with a zone id'],
    ['::1', 'bare IPv6 without brackets'],
    ['[::1', 'unclosed bracket'],
    ['[::1]x', 'junk after the bracket'],
    ['[localhost]', 'a name in brackets'],
    ['', 'empty'],
    [undefined, 'absent'],
    ['a b', 'space'],
    ['localhost\t', 'tab'],
    ['host:1:2', 'two colons'],
    ['user@localhost', 'userinfo'],
    ['localhost/x', 'a path'],
    ['localhost,evil.example', 'a list'],
    ['x'.repeat(300), 'a 300-character name'],
    ['a'.repeat(250) + '.local', 'a 256-character .local name'],
  ];
  for (const [h, why] of rejected) {
    it(`rejects ${JSON.stringify(h)?.slice(0, 40)} (${why})`, () => assert.equal(isAllowedHost(h, policy), false));
  }

  it('follows the live address set (an address that appears later is accepted)', () => {
    const live = new Set(['10.77.0.1']);
    const p: HostPolicy = { addresses: () => live, names: () => new Set() };
    assert.equal(isAllowedHost('192.168.1.20', p), false);
    live.add('192.168.1.20');
    assert.equal(isAllowedHost('192.168.1.20:8200', p), true);
  });
});

describe('parseHostHeader', () => {
  it('splits name and port and lower-cases the name', () => {
    assert.deepEqual(parseHostHeader('Stereo.LOCAL:8200'), { host: 'stereo.local', port: 8200 });
    assert.deepEqual(parseHostHeader('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseHostHeader('10.0.0.5'), { host: '10.0.0.5', port: null });
  });
  it('is null for malformed values', () => {
    for (const h of ['', 'a b', 'h:1:2', '[::1', 'x:0', 'x:70000', 'x'.repeat(256)]) assert.equal(parseHostHeader(h), null, h);
  });
});
