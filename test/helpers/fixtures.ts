// Audio fixtures: made once per checkout by scripts/make-fixtures.sh (ffmpeg), plus WAVs made in memory.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'generated');

let made = false;
export function ensureFixtures(): string {
  if (!made) {
    execFileSync(path.join(REPO_ROOT, 'scripts', 'make-fixtures.sh'), [FIXTURES], { stdio: 'ignore' });
    made = true;
  }
  return FIXTURES;
}

export function fixture(name: string): Buffer {
  return readFileSync(path.join(ensureFixtures(), name));
}

export function fixturePath(name: string): string {
  return path.join(ensureFixtures(), name);
}

/**
 * A valid, distinct 16-bit mono PCM WAV with RIFF INFO tags: every `seed` gives different bytes.
 * Quick to make in bulk for durability and load tests.
 */
export function makeWav(seed: number, opts: { seconds?: number; rate?: number; title?: string; artist?: string; album?: string } = {}): Buffer {
  const rate = opts.rate ?? 8000;
  const n = Math.round((opts.seconds ?? 2) * rate);
  const pcm = Buffer.alloc(n * 2);
  const freq = 200 + (seed % 5000) * 0.37;
  for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(Math.sin((2 * Math.PI * freq * i) / rate) * 8000 + (seed % 7)), i * 2);
  const info = (id: string, text: string) => {
    const body = Buffer.from(text + '\0', 'utf8');
    const padded = body.length % 2 ? Buffer.concat([body, Buffer.alloc(1)]) : body;
    const h = Buffer.alloc(8);
    h.write(id, 0, 'ascii');
    h.writeUInt32LE(body.length, 4);
    return Buffer.concat([h, padded]);
  };
  const infoBody = Buffer.concat([
    Buffer.from('INFO'),
    info('INAM', opts.title ?? `Wave ${seed}`),
    info('IART', opts.artist ?? 'Wave Artist'),
    info('IPRD', opts.album ?? 'Wave Album'),
  ]);
  const list = Buffer.alloc(8);
  list.write('LIST', 0, 'ascii');
  list.writeUInt32LE(infoBody.length, 4);
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'ascii');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8); // PCM
  fmt.writeUInt16LE(1, 10); // mono
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE(rate * 2, 16);
  fmt.writeUInt16LE(2, 20);
  fmt.writeUInt16LE(16, 22);
  const dataHdr = Buffer.alloc(8);
  dataHdr.write('data', 0, 'ascii');
  dataHdr.writeUInt32LE(pcm.length, 4);
  const body = Buffer.concat([Buffer.from('WAVE'), fmt, list, infoBody, dataHdr, pcm]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}
