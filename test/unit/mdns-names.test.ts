// The names hifid advertises over mDNS: instance names with conflict suffixes, host labels people can
// type, both within DNS's 63-byte label limit; and the change events the web remote receives.
import assert from 'node:assert/strict';
import { hostLabel, instanceName } from '../../daemon/mdns.js';
import { changeEvent } from '../../daemon/http/remote-api.js';
import type { StoredTrack } from '../../daemon/library/track.js';

describe('mDNS names', () => {
  it('keeps the friendly name and numbers conflicts "(2)", "(3)"', () => {
    assert.equal(instanceName('Living-room Hi-Fi', 1), 'Living-room Hi-Fi');
    assert.equal(instanceName('Living-room Hi-Fi', 2), 'Living-room Hi-Fi (2)');
    assert.equal(instanceName('Living-room Hi-Fi', 13), 'Living-room Hi-Fi (13)');
  });

  it('turns dots into dashes, so the instance stays one DNS label', () => {
    assert.equal(instanceName('Hi-Fi v2.0', 1), 'Hi-Fi v2-0');
  });

  it('cuts long names to 63 bytes, suffix included, without splitting a character', () => {
    const long = 'Wohnzimmer-Stereoanlage mit Plattenspieler und großem Verstärker im Erdgeschoß';
    for (const n of [1, 2, 100]) {
      const name = instanceName(long, n);
      assert.ok(Buffer.byteLength(name) <= 63, `${name}: ${Buffer.byteLength(name)} bytes`);
      assert.ok(!name.includes('\uFFFD'));
      if (n > 1) assert.ok(name.endsWith(` (${n})`), name);
    }
    const emoji = '🎵'.repeat(40);
    assert.ok(Buffer.byteLength(instanceName(emoji, 2)) <= 63);
    assert.match(instanceName(emoji, 2), /^(🎵)+ \(2\)$/u);
  });

  it('never advertises an empty name', () => {
    assert.equal(instanceName('  ...  ', 1), '---');
    assert.equal(instanceName('   ', 1), 'hifid');
  });

  it('derives a typeable host label from the friendly name', () => {
    assert.equal(hostLabel('Living-room Hi-Fi', 'vm', 1), 'living-room-hi-fi');
    assert.equal(hostLabel('Living-room Hi-Fi', 'vm', 2), 'living-room-hi-fi-2');
    assert.equal(hostLabel('Björk’s Stereo', 'vm', 1), 'bjork-s-stereo');
    assert.equal(hostLabel('hifid on Pi.local', 'vm', 1), 'hifid-on-pi-local');
  });

  it('falls back to the machine name, then to "hifid", when the name has nothing typeable', () => {
    assert.equal(hostLabel('客厅音响', 'raspberrypi', 1), 'raspberrypi');
    assert.equal(hostLabel('客厅音响', '', 3), 'hifid-3');
  });

  it('keeps host labels within 63 bytes with the suffix', () => {
    const label = hostLabel('a'.repeat(100), 'vm', 12);
    assert.equal(label.length, 63);
    assert.ok(label.endsWith('-12'));
  });
});

describe('live change events', () => {
  const t = (id: string) => ({ id }) as StoredTrack;

  it('carry the ids added and removed', () => {
    assert.deepEqual(changeEvent({ updateId: 7, added: [t('a'), t('b')], removed: [t('c')] }), { updateId: 7, added: ['a', 'b'], removed: ['c'] });
  });

  it('say "truncated" instead of listing a whole scan', () => {
    const many = Array.from({ length: 600 }, (_, i) => t(String(i)));
    assert.deepEqual(changeEvent({ updateId: 8, added: many, removed: [] }), { updateId: 8, added: [], removed: [], truncated: true });
  });
});
