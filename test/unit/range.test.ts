// Range header parsing: what a seeking player asks for and what it gets back.
import assert from 'node:assert/strict';
import { parseRange, type RangeResult } from '../../daemon/http/range.js';

describe('parseRange', () => {
  const full: RangeResult = { kind: 'full' };
  const none: RangeResult = { kind: 'unsatisfiable' };
  const part = (start: number, end: number): RangeResult => ({ kind: 'partial', start, end });

  const cases: Array<[string, string | undefined, number, RangeResult]> = [
    ['no header', undefined, 1000, full],
    ['first byte', 'bytes=0-0', 1000, part(0, 0)],
    ['last byte', 'bytes=999-999', 1000, part(999, 999)],
    ['open end', 'bytes=0-', 1000, part(0, 999)],
    ['from the middle', 'bytes=500-', 1000, part(500, 999)],
    ['closed range', 'bytes=10-19', 1000, part(10, 19)],
    ['suffix', 'bytes=-500', 1000, part(500, 999)],
    ['suffix of one byte', 'bytes=-1', 1000, part(999, 999)],
    ['suffix bigger than the file', 'bytes=-5000', 1000, part(0, 999)],
    ['start at the size', 'bytes=1000-', 1000, none],
    ['start beyond the size', 'bytes=5000-6000', 1000, none],
    ['absurd start', 'bytes=99999999999999999999-', 1000, none],
    ['end beyond the size clamps', 'bytes=500-5000', 1000, part(500, 999)],
    ['absurd end clamps', 'bytes=0-99999999999999999999', 1000, part(0, 999)],
    ['empty suffix', 'bytes=-0', 1000, none],
    ['end before start is ignored', 'bytes=20-10', 1000, full],
    ['two ranges → whole file', 'bytes=0-1,5-6', 1000, full],
    ['many ranges → whole file', `bytes=${Array.from({ length: 500 }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`, 1000, full],
    ['other unit', 'items=0-1', 1000, full],
    ['garbage', 'garbage', 1000, full],
    ['no numbers', 'bytes=-', 1000, full],
    ['negative start', 'bytes=-1-5', 1000, full],
    ['letters', 'bytes=a-b', 1000, full],
    ['empty file, whole', undefined, 0, full],
    ['empty file, open range', 'bytes=0-', 0, none],
    ['empty file, first byte', 'bytes=0-0', 0, none],
    ['empty file, suffix', 'bytes=-10', 0, none],
  ];
  for (const [what, header, size, want] of cases) {
    it(`${what}: ${header === undefined ? '(none)' : header.slice(0, 30)} of ${size} → ${want.kind === 'partial' ? `${want.start}-${want.end}` : want.kind}`, () => {
      assert.deepEqual(parseRange(header, size), want);
    });
  }

  it('a partial answer always lies inside the file', () => {
    for (const size of [1, 2, 10, 1000]) {
      for (const h of ['bytes=0-', 'bytes=-1', `bytes=-${size * 3}`, `bytes=${size - 1}-`, `bytes=0-${size * 5}`]) {
        const r = parseRange(h, size);
        assert.equal(r.kind, 'partial', `${h} of ${size}`);
        if (r.kind !== 'partial') continue;
        assert.ok(r.start >= 0 && r.start <= r.end && r.end <= size - 1, `${h} of ${size}: ${r.start}-${r.end}`);
      }
    }
  });
});
