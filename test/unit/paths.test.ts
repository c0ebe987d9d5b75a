// Store paths from untrusted tags and file names: what ends up on the disk must be safe and readable.
import assert from 'node:assert/strict';
import { collisionVariant, isContainedRelative, sanitizeExtension, sanitizeSegment, storeRelativePath, titleFromFileName, type PathTags } from '../../daemon/library/paths.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
/** True when `s` survives a UTF-8 round trip (no lone surrogate from a split pair). */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;

describe('sanitizeSegment', () => {
  const cases: Array<[string, string, string]> = [
    ['slash', 'AC/DC', 'AC_DC'],
    ['backslash', 'a\\b', 'a_b'],
    ['dot-dot', '..', 'FB'],
    ['dot', '.', 'FB'],
    ['many dots', '...', 'FB'],
    ['leading dots', '...hidden', 'hidden'],
    ['dotfile', '.bashrc', 'bashrc'],
    ['trailing dots and spaces', 'Help!.. ', 'Help!'],
    ['control characters', 'a\u0007b\u001bc', 'abc'],
    ['newlines and tabs read as spaces', 'Title\r\nSubtitle\tLive', 'Title Subtitle Live'],
    ['NUL', 'a\u0000b', 'ab'],
    ['only NUL', '\u0000', 'FB'],
    ['C1 controls and line separators', 'a\u0085b\u2028c', 'ab c'],
    ['vfat-refused characters', 'a:b*c?d"e<f>g|h', 'a_b_c_d_e_f_g_h'],
    ['fullwidth solidus', 'x\uff0fy', 'x_y'],
    ['runs of whitespace', '  a \t\t b  ', 'a b'],
    ['reserved CON', 'CON', '_CON'],
    ['reserved con, any case', 'con', '_con'],
    ['reserved with extension', 'nul.txt', '_nul.txt'],
    ['reserved COM1', 'COM1', '_COM1'],
    ['reserved LPT9 with two extensions', 'LPT9.tar.gz', '_LPT9.tar.gz'],
    ['not reserved: CONSOLE', 'CONSOLE', 'CONSOLE'],
    ['not reserved: CON inside', 'Icon', 'Icon'],
    ['empty', '', 'FB'],
    ['only spaces', '   ', 'FB'],
    ['NFC normalised', 'Beyonce\u0301', 'Beyonc\u00e9'],
    ['unicode kept', '雨の日 🎵', '雨の日 🎵'],
  ];
  for (const [what, raw, want] of cases) {
    it(`${what}: ${JSON.stringify(raw)} → ${JSON.stringify(want)}`, () => {
      assert.equal(sanitizeSegment(raw, 'FB'), want);
    });
  }

  it('never yields a separator, a dot name or a control character for hostile input', () => {
    const hostile = ['../../etc/passwd', '..\\..\\win.ini', '/', '\\', './.', '. .', '.\u0000.', '\u202e..', 'a/../b', '%2e%2e'];
    for (const raw of hostile) {
      const s = sanitizeSegment(raw, 'FB');
      assert.ok(s.length > 0, raw);
      assert.doesNotMatch(s, /[/\\\u0000-\u001f]/, raw);
      assert.ok(!s.startsWith('.'), `${JSON.stringify(raw)} → ${s}`);
      assert.notEqual(s, '..');
    }
  });

  it('truncates 300 ASCII characters to 120 bytes', () => {
    const s = sanitizeSegment('x'.repeat(300), 'FB');
    assert.equal(s, 'x'.repeat(120));
  });

  const multibyte: Array<[string, string]> = [
    ['3-byte CJK', '雨'.repeat(100)],
    ['4-byte emoji (surrogate pairs)', '🎵'.repeat(80)],
    ['mixed widths', 'a雨🎵é'.repeat(40)],
    ['offset so a 4-byte character straddles the limit', 'ab' + '🎵'.repeat(60)],
    ['combining accents that cannot be precomposed', 'q\u0301\u0323'.repeat(60)],
    ['emoji ZWJ family sequences', '👨‍👩‍👧'.repeat(20)],
    ['flags (regional indicator pairs)', '🇯🇵'.repeat(30)],
  ];
  for (const [what, raw] of multibyte) {
    it(`truncates ${what} to ≤120 bytes without splitting a character`, () => {
      const s = sanitizeSegment(raw, 'FB');
      assert.ok(bytes(s) <= 120, `${bytes(s)} bytes`);
      assert.ok(bytes(s) > 100, `kept as much as fits, got ${bytes(s)} bytes`);
      assert.ok(wellFormed(s), 'valid UTF-8: no half surrogate pair');
      assert.ok(raw.normalize('NFC').startsWith(s), 'a prefix of the input');
      // The cut falls between user-perceived characters: the next grapheme starts exactly there.
      const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
      const boundaries = new Set([...seg.segment(raw.normalize('NFC'))].map((g) => g.index));
      assert.ok(boundaries.has(s.length), `cut at ${s.length} is inside a character`);
    });
  }

  it('does not leave a trailing dot when truncation cuts just after one', () => {
    const s = sanitizeSegment('a'.repeat(119) + '.b' + 'c'.repeat(20), 'FB');
    assert.equal(s, 'a'.repeat(119));
  });

  it('stays ≤120 bytes when a long reserved name gets its "_" prefix', () => {
    const s = sanitizeSegment('CON.' + 'a'.repeat(116), 'FB');
    assert.ok(s.startsWith('_CON.'), s);
    assert.ok(bytes(s) <= 120, `${bytes(s)} bytes`);
  });

  it('uses the fallback when everything is stripped, and the fallback is itself safe', () => {
    assert.equal(sanitizeSegment('\u0000\u0001..', 'Unknown Artist'), 'Unknown Artist');
  });
});

describe('storeRelativePath', () => {
  const tags = (t: Partial<PathTags>): PathTags => ({ albumArtist: 'Artist', album: 'Album', title: 'Song', trackNumber: 3, discNumber: 1, ...t });

  it('is Album Artist/Album/NN Title.ext', () => {
    assert.equal(storeRelativePath(tags({}), 'mp3'), 'Artist/Album/03 Song.mp3');
  });

  it('prefixes the disc on a second disc: 2-03', () => {
    assert.equal(storeRelativePath(tags({ discNumber: 2 }), 'flac'), 'Artist/Album/2-03 Song.flac');
  });

  it('prefixes disc 1 when the album has several discs', () => {
    assert.equal(storeRelativePath(tags({ discNumber: 1 }), 'flac', 2), 'Artist/Album/1-03 Song.flac');
  });

  it('has no disc prefix on a one-disc album', () => {
    assert.equal(storeRelativePath(tags({ discNumber: 1 }), 'flac', 1), 'Artist/Album/03 Song.flac');
    assert.equal(storeRelativePath(tags({ discNumber: null }), 'flac'), 'Artist/Album/03 Song.flac');
  });

  it('has no number prefix without a track number (or with track 0)', () => {
    assert.equal(storeRelativePath(tags({ trackNumber: null, discNumber: 2 }), 'm4a'), 'Artist/Album/Song.m4a');
    assert.equal(storeRelativePath(tags({ trackNumber: 0 }), 'm4a'), 'Artist/Album/Song.m4a');
  });

  it('pads to two digits but keeps three-digit track numbers whole', () => {
    assert.equal(storeRelativePath(tags({ trackNumber: 7 }), 'mp3'), 'Artist/Album/07 Song.mp3');
    assert.equal(storeRelativePath(tags({ trackNumber: 123 }), 'mp3'), 'Artist/Album/123 Song.mp3');
  });

  it('falls back to Unknown Artist / Unknown Album / Untitled', () => {
    assert.equal(storeRelativePath(tags({ albumArtist: '', album: ' ', title: '..', trackNumber: null }), 'ogg'), 'Unknown Artist/Unknown Album/Untitled.ogg');
  });

  it('keeps hostile tags to exactly three safe segments', () => {
    const rel = storeRelativePath(tags({ albumArtist: '../..', album: '/etc', title: '../passwd\u0000' }), 'mp3');
    const parts = rel.split('/');
    assert.equal(parts.length, 3, rel);
    for (const p of parts) assert.ok(p && !p.startsWith('.'), rel);
    assert.ok(isContainedRelative(rel));
  });

  it('takes a lower-case safe extension, never path characters from it', () => {
    assert.equal(storeRelativePath(tags({}), 'FLAC'), 'Artist/Album/03 Song.flac');
    assert.equal(sanitizeExtension('../mp3'), 'mp3');
    assert.equal(sanitizeExtension(''), 'bin');
    assert.equal(sanitizeExtension('.'), 'bin');
  });
});

describe('collisionVariant', () => {
  it('is the path itself for n ≤ 1', () => {
    assert.equal(collisionVariant('A/B/03 Song.mp3', 1), 'A/B/03 Song.mp3');
    assert.equal(collisionVariant('A/B/03 Song.mp3', 0), 'A/B/03 Song.mp3');
  });
  it('numbers before the extension: (2), (3)…', () => {
    assert.equal(collisionVariant('A/B/03 Song.mp3', 2), 'A/B/03 Song (2).mp3');
    assert.equal(collisionVariant('A/B/03 Song.mp3', 10), 'A/B/03 Song (10).mp3');
  });
  it('uses the file extension, not a dot in a folder name', () => {
    assert.equal(collisionVariant('A/Vol. 2/Song', 3), 'A/Vol. 2/Song (3)');
  });
});

describe('titleFromFileName', () => {
  const cases: Array<[string | null | undefined, string | null]> = [
    ['My_Song.mp3', 'My Song'],
    ['dir/sub/Track.flac', 'Track'],
    ['C:\\Music\\a_b.m4a', 'a b'],
    ['no extension', 'no extension'],
    ['song.tar.gz', 'song.tar'],
    ['.mp3', null],
    ['__.mp3', null],
    ['', null],
    [null, null],
    [undefined, null],
  ];
  for (const [name, want] of cases) {
    it(`${JSON.stringify(name)} → ${JSON.stringify(want)}`, () => {
      assert.equal(titleFromFileName(name), want);
    });
  }
});

describe('isContainedRelative', () => {
  const cases: Array<[string, boolean]> = [
    ['Artist/Album/01 Song.mp3', true],
    ['a/../b', true],
    ['./a', true],
    ['..a/b', true],
    ['../a', false],
    ['a/../../b', false],
    ['a\\..\\..\\b', false],
    ['..', false],
    ['.', false],
    ['a/..', false],
    ['', false],
    ['/etc/passwd', false],
    ['a\u0000b', false],
  ];
  for (const [rel, want] of cases) {
    it(`${JSON.stringify(rel)} → ${want}`, () => {
      assert.equal(isContainedRelative(rel), want);
    });
  }
});
