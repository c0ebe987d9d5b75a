// The device description against a golden file (UPDATE_GOLDEN=1 rewrites it), with fixed inputs.
import assert from 'node:assert/strict';
import { XMLValidator } from 'fast-xml-parser';
import { deviceDescription, serialNumberOf } from '../../daemon/upnp/description.js';
import { createConnectionManager } from '../../daemon/upnp/connection-manager.js';
import { createRegistrar } from '../../daemon/upnp/registrar.js';
import { assertGolden } from '../helpers/golden.js';

const UDN = 'uuid:5e1f0c2a-9b7d-4c3e-8a61-0123456789ab';

describe('device description', () => {
  // A name with everything that must be escaped or kept: &, <, quotes, an emoji, a control character.
  const xml = deviceDescription({
    udn: UDN,
    friendlyName: 'Living & <Room> "Hi-Fi" 🎵\u0007',
    version: '1.2.3',
    services: [
      { type: 'urn:schemas-upnp-org:service:ContentDirectory:1', id: 'urn:upnp-org:serviceId:ContentDirectory', slug: 'cds' },
      { type: 'urn:schemas-upnp-org:service:ConnectionManager:1', id: 'urn:upnp-org:serviceId:ConnectionManager', slug: 'cms' },
      { type: 'urn:microsoft.com:service:X_MS_MediaReceiverRegistrar:1', id: 'urn:microsoft.com:serviceId:X_MS_MediaReceiverRegistrar', slug: 'msr' },
    ],
  });

  it('matches test/golden/description.xml', () => {
    assertGolden('description.xml', xml);
  });

  it('is well-formed XML with the name escaped', () => {
    assert.equal(XMLValidator.validate(xml), true);
    assert.match(xml, /<friendlyName>Living &amp; &lt;Room&gt; &quot;Hi-Fi&quot; 🎵<\/friendlyName>/);
  });

  it('derives the serial number from the UDN', () => {
    assert.equal(serialNumberOf(UDN), '5E1F0C2A9B7D4C3E8A610123456789AB');
  });

  it('ConnectionManager and registrar SCPDs are well-formed', () => {
    for (const s of [createConnectionManager(), createRegistrar()]) assert.equal(XMLValidator.validate(s.scpd()), true, s.name);
  });
});
