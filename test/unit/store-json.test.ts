// The catalogue document is serialised a slice at a time, so a big catalogue never holds the event
// loop: the bytes must be exactly what one JSON.stringify would write, or a restart reads garbage.
import assert from 'node:assert/strict';
import { documentChunks, type CatalogDoc } from '../../daemon/library/store.js';

async function documentJson(doc: CatalogDoc): Promise<string> {
  let text = '';
  for await (const chunk of documentChunks(doc)) text += chunk;
  return text;
}
import { storedTrack } from '../helpers/tracks.js';

describe('catalogue document JSON', () => {
  for (const n of [0, 1, 249, 250, 251, 2500]) {
    it(`is byte for byte JSON.stringify with ${n} tracks`, async () => {
      const doc: CatalogDoc = { version: 1, journalSeq: 42, tracks: Array.from({ length: n }, (_, i) => storedTrack({ id: `t${i}`, title: `Song "${i}" \u2028 é 🎵` })) };
      const text = await documentJson(doc);
      assert.equal(text, JSON.stringify(doc));
      assert.deepEqual(JSON.parse(text), doc);
    });
  }

  it('lets other work run while a big catalogue is serialised', async () => {
    const doc: CatalogDoc = { version: 1, journalSeq: 1, tracks: Array.from({ length: 5000 }, (_, i) => storedTrack({ id: `t${i}` })) };
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    await documentJson(doc);
    clearInterval(timer);
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
  });
});
