// Every client gets a format it plays: the ContentDirectory lists, per renderer profile, the original
// first when the client plays it, otherwise a transcode it does — checked through Browse, then by
// decoding what the listed URL serves.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture } from '../helpers/fixtures.js';
import { pushFile } from '../helpers/api.js';
import { soap, xmlText } from '../helpers/upnp.js';

const CDS = 'urn:schemas-upnp-org:service:ContentDirectory:1';
const PS3 = { 'User-Agent': 'UPnP/1.0 DLNADOC/1.50', 'X-AV-Client-Info': 'av=5.0; cn="Sony Computer Entertainment Inc."; mn="PLAYSTATION 3"; mv="1.0";' };
const VLC = { 'User-Agent': 'VLC/3.0.18 LibVLC/3.0.18' };

interface Res {
  protocolInfo: string;
  uri: string;
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** The <res> elements of the item titled `title` in a Browse result, in order. */
function resOf(didl: string, title: string): Res[] {
  const items = didl.split('<item ').slice(1);
  const item = items.find((i) => i.includes(`<dc:title>${title}</dc:title>`));
  assert.ok(item, `item ${title} listed`);
  return [...item.matchAll(/<res [^>]*protocolInfo="([^"]+)"[^>]*>([^<]+)<\/res>/g)].map((m) => ({ protocolInfo: m[1]!, uri: unescapeXml(m[2]!) }));
}

async function browseAll(d: TestDaemon, headers: Record<string, string>): Promise<string> {
  const r = await soap(`${d.url}/upnp/control/cds`, CDS, 'Browse', { headers, args: { ObjectID: 'm/all', BrowseFlag: 'BrowseDirectChildren', Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' } });
  assert.equal(r.status, 200, r.body);
  return unescapeXml(xmlText(r.body, 'Result') ?? '');
}

function probe(bytes: Buffer): { codec: string; duration: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'hifid-probe-'));
  try {
    const f = path.join(dir, 'x');
    writeFileSync(f, bytes);
    const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name:format=duration', '-of', 'json', f]).toString();
    const j = JSON.parse(out) as { streams: Array<{ codec_name: string }>; format: { duration: string } };
    return { codec: j.streams[0]!.codec_name, duration: Number(j.format.duration) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('renderer profiles in the ContentDirectory', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
    for (const f of ['hires.flac', 'tone.opus', 'tone.mp3']) assert.equal((await pushFile(d.url, f, fixture(f))).status, 201);
  });
  after(async () => d.dispose());

  it('never offers a PlayStation 3 only FLAC or Opus, and what it offers decodes with the right duration', async () => {
    const didl = await browseAll(d, PS3);
    for (const [title, seconds] of [['Tone 5', 3], ['Tone 9', 2]] as const) {
      const res = resOf(didl, title);
      assert.ok(res.length >= 1);
      assert.ok(res.every((r) => !/audio\/(flac|ogg)/.test(r.protocolInfo)), `${title}: ${res.map((r) => r.protocolInfo).join(' | ')}`);
      const first = res[0]!;
      // MP3 or LPCM (the PS3 profile takes LPCM in a WAV wrapper, as UMS's PS3.conf does).
      assert.match(first.protocolInfo, /^http-get:\*:(audio\/mpeg:DLNA\.ORG_PN=MP3|audio\/L16[^:]*:DLNA\.ORG_PN=LPCM|audio\/wav:)/);
      const body = await fetch(first.uri, { headers: PS3 });
      assert.equal(body.status, 200);
      const bytes = Buffer.from(await body.arrayBuffer());
      if (first.protocolInfo.includes('audio/L16')) {
        // Raw big-endian PCM: its length is the duration.
        const rate = Number(/rate=(\d+)/.exec(first.protocolInfo)![1]);
        const channels = Number(/channels=(\d+)/.exec(first.protocolInfo)?.[1] ?? 2);
        assert.ok(Math.abs(bytes.length / (rate * channels * 2) - seconds) < 0.2, `${title}: ${bytes.length} bytes`);
      } else {
        const p = probe(bytes);
        assert.ok(['mp3', 'pcm_s16le', 'pcm_s16be'].includes(p.codec), p.codec);
        assert.ok(Math.abs(p.duration - seconds) < 0.2, `${title}: ${p.duration} s`);
      }
    }
    // MP3 it plays as it is: the original comes first.
    assert.match(resOf(didl, 'Tone 1')[0]!.uri, /\/media\/[0-9a-f]+\.mp3$/);
  });

  it('gives VLC the untouched original first', async () => {
    const didl = await browseAll(d, VLC);
    const res = resOf(didl, 'Tone 5');
    assert.match(res[0]!.protocolInfo, /^http-get:\*:audio\/flac:/);
    const body = Buffer.from(await (await fetch(res[0]!.uri)).arrayBuffer());
    assert.deepEqual(body, fixture('hires.flac'));
  });
});
