// Generates a tagged MP3 library for benchmarks: <out>/Artist NNNN/Album NNNN/NN Title.mp3.
// One short MP3 payload (made once with ffmpeg) behind a distinct ID3v2.3 tag per file, so a
// 50 000-track library takes seconds and about 4 KB per track.
//   node dist/scripts/gen-library.js --out DIR --tracks N [--tracks-per-album 10] [--albums-per-artist 5]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const GENRES = ['Rock', 'Pop', 'Jazz', 'Classical', 'Electronic', 'Hip-Hop', 'Folk', 'Blues', 'Soul', 'J-Pop'];

function id3Frame(id: string, text: string): Buffer {
  // Text encoding 1 = UTF-16 with BOM: every title, Japanese included, survives.
  const body = Buffer.concat([Buffer.from([1, 0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  const h = Buffer.alloc(10);
  h.write(id, 0, 'ascii');
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
}

function syncsafe(n: number): Buffer {
  return Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f]);
}

export function id3v23(tags: Record<string, string>): Buffer {
  const frames = Buffer.concat(Object.entries(tags).map(([k, v]) => id3Frame(k, v)));
  return Buffer.concat([Buffer.from('ID3'), Buffer.from([3, 0, 0]), syncsafe(frames.length), frames]);
}

function mp3Payload(ffmpeg: string): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'hifid-gen-'));
  const f = path.join(dir, 'p.mp3');
  execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1:sample_rate=22050', '-ac', '1', '-b:a', '32k', '-id3v2_version', '0', '-write_xing', '0', '-fflags', '+bitexact', '-y', f]);
  const b = readFileSync(f);
  rmSync(dir, { recursive: true, force: true });
  return b;
}

export interface GeneratedLibrary {
  tracks: number;
  artists: number;
  albums: number;
}

export function generateLibrary(out: string, tracks: number, perAlbum = 10, albumsPerArtist = 5, ffmpeg = 'ffmpeg'): GeneratedLibrary {
  const payload = mp3Payload(ffmpeg);
  let n = 0;
  let albums = 0;
  let artists = 0;
  for (let a = 0; n < tracks; a++) {
    artists++;
    const artist = `Artist ${String(a).padStart(4, '0')}`;
    for (let b = 0; b < albumsPerArtist && n < tracks; b++) {
      albums++;
      const album = `Album ${String(a).padStart(4, '0')}-${b}`;
      const dir = path.join(out, artist, album);
      mkdirSync(dir, { recursive: true });
      for (let t = 1; t <= perAlbum && n < tracks; t++, n++) {
        const title = `Song ${n} ${t % 3 === 0 ? 'Love' : t % 3 === 1 ? 'Night' : 'Rain'}`;
        const file = path.join(dir, `${String(t).padStart(2, '0')} ${title}.mp3`);
        if (existsSync(file)) continue;
        const tag = id3v23({ TIT2: title, TPE1: artist, TPE2: artist, TALB: album, TRCK: `${t}/${perAlbum}`, TYER: String(1970 + (a % 50)), TCON: GENRES[a % GENRES.length]! });
        writeFileSync(file, Buffer.concat([tag, payload]));
      }
    }
  }
  return { tracks: n, artists, albums };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, tracks: { type: 'string', default: '10000' }, 'tracks-per-album': { type: 'string', default: '10' }, 'albums-per-artist': { type: 'string', default: '5' } } });
  if (!values.out) {
    process.stderr.write('usage: gen-library --out DIR --tracks N\n');
    process.exit(2);
  }
  const t0 = Date.now();
  const r = generateLibrary(values.out, Number(values.tracks), Number(values['tracks-per-album']), Number(values['albums-per-artist']));
  process.stdout.write(`generated ${r.tracks} tracks, ${r.albums} albums, ${r.artists} artists in ${Date.now() - t0} ms under ${values.out}\n`);
}
