// NPT time ranges for DLNA time seek: both time forms, the range grammar, and our answer.
import assert from 'node:assert/strict';
import { formatNptSeconds, formatTimeSeekRange, parseNptTime, parseTimeSeekRange } from '../../daemon/media/npt.js';

describe('NPT (TimeSeekRange.dlna.org)', () => {
  it('parses seconds', () => {
    assert.equal(parseNptTime('12.5'), 12.5);
    assert.equal(parseNptTime('0'), 0);
    assert.equal(parseNptTime('245'), 245);
    assert.equal(parseNptTime('1.000'), 1);
  });

  it('parses H:MM:SS.sss with unpadded hours', () => {
    assert.equal(parseNptTime('0:00:12.500'), 12.5);
    assert.equal(parseNptTime('1:02:03'), 3723);
    assert.equal(parseNptTime('10:00:00.25'), 36000.25);
    assert.equal(parseNptTime('00:01:00'), 60);
  });

  it('refuses malformed times', () => {
    for (const t of ['', 'now', '-1', '1:2:3', '0:60:00', '0:00:60', '1e3', '12.', '.5', '0x10', '1:00']) assert.equal(parseNptTime(t), null, t);
  });

  it('parses open and closed ranges', () => {
    assert.deepEqual(parseTimeSeekRange('npt=12.5-'), { start: 12.5, end: null });
    assert.deepEqual(parseTimeSeekRange('npt=0:00:12.500-0:01:00.000'), { start: 12.5, end: 60 });
    assert.deepEqual(parseTimeSeekRange('NPT = 10 - 20'), { start: 10, end: 20 });
    assert.deepEqual(parseTimeSeekRange('npt=1.0-'), { start: 1, end: null });
    // An answer's duration suffix is tolerated.
    assert.deepEqual(parseTimeSeekRange('npt=1-2/245.0'), { start: 1, end: 2 });
  });

  it('refuses malformed ranges', () => {
    for (const h of [undefined, '', 'npt=', 'npt=-10', 'bytes=0-', 'npt=now-', 'npt=10-5', 'npt=5-5', 'npt=1-2-3', 'npt=a-b']) assert.equal(parseTimeSeekRange(h), null, String(h));
  });

  it('formats the answer as start-end/duration in seconds', () => {
    assert.equal(formatNptSeconds(12.5), '12.500');
    assert.equal(formatNptSeconds(-1), '0.000');
    assert.equal(formatTimeSeekRange({ start: 12.5, end: 245 }, 245), 'npt=12.500-245.000/245.000');
    assert.equal(formatTimeSeekRange({ start: 1, end: 3 }, 3.0005), 'npt=1.000-3.000/3.001');
  });
});
