// Text into XML for the documents this folder writes (device description, SCPDs, SOAP answers, GENA
// property sets). One function so the escaping is the same everywhere.

/** Characters XML 1.0 cannot carry at all, even escaped: C0 controls other than tab, LF, CR; U+FFFE/F. */
const INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
/** A surrogate half without its partner (the `u` flag makes paired halves one code point). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/gu;
/** Anything that needs work: most tag values have none, and a Browse escapes thousands of them. */
const SPECIAL = /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;
const UNSAFE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

/**
 * Escapes text for element content or a double-quoted attribute. Characters XML cannot hold are
 * dropped (lone surrogates become U+FFFD), so a tag value from a phone can never make the document
 * unparseable. A CR is written as `&#13;` because parsers would otherwise turn it into LF.
 */
export function escapeXml(text: string): string {
  if (!SPECIAL.test(text)) return text;
  const safe = UNSAFE.test(text) ? text.replace(INVALID, '').replace(LONE_SURROGATE, '\uFFFD') : text;
  // One native pass per character kind: much faster on a whole DIDL document than a callback per match.
  return safe.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\r/g, '&#13;');
}

/** The reference for each byte that needs one; UTF-8 continuation and lead bytes are all ≥ 0x80. */
const ENTITY_BYTES: ReadonlyArray<Buffer | undefined> = (() => {
  const table: Array<Buffer | undefined> = new Array(256).fill(undefined);
  for (const [c, ref] of [['&', '&amp;'], ['<', '&lt;'], ['>', '&gt;'], ['"', '&quot;'], ["'", '&apos;'], ['\r', '&#13;']] as const) table[c.charCodeAt(0)] = Buffer.from(ref, 'latin1');
  return table;
})();

/** A piece of an XML document: markup written as it is, or text escaped as escapeXml does. */
export type XmlPiece = { readonly markup: string } | { readonly text: string };

/**
 * Where pieces are encoded before escaping. Kept between calls (a Browse answer is about 90 KB), up
 * to SCRATCH_KEPT: a 2000-item answer gets a one-off buffer instead of holding 2 MB for good.
 */
let scratch = Buffer.alloc(0);
const SCRATCH_KEPT = 512 * 1024;

/**
 * The document's UTF-8 bytes in one allocation. A Browse answer's Result is a whole DIDL-Lite
 * document: string replaces copied it six times on V8's young heap, and bytes made per step (encode,
 * escape, concatenate) were three 90 KB buffers outside it per Browse, freed only when a collection
 * found them, which left the C heap fragmented after a burst. Here the encoding goes to a reused
 * scratch buffer and only the answer itself is new.
 */
export function xmlUtf8(pieces: readonly XmlPiece[]): Buffer {
  const strings = pieces.map((p) => ('markup' in p ? p.markup : UNSAFE.test(p.text) ? p.text.replace(INVALID, '').replace(LONE_SURROGATE, '\uFFFD') : p.text));
  let encodedSize = 0;
  for (const s of strings) encodedSize += Buffer.byteLength(s, 'utf8');
  if (scratch.length < encodedSize && encodedSize <= SCRATCH_KEPT) scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_KEPT, Math.max(encodedSize, 2 * scratch.length)));
  const src = scratch.length >= encodedSize ? scratch : Buffer.allocUnsafeSlow(encodedSize);
  const ends: number[] = [];
  let size = 0;
  let at = 0;
  for (let p = 0; p < strings.length; p++) {
    const end = at + src.write(strings[p]!, at, 'utf8');
    if (!('markup' in pieces[p]!)) for (let i = at; i < end; i++) size += ENTITY_BYTES[src[i]!]?.length ?? 1;
    else size += end - at;
    ends.push((at = end));
  }
  const out = Buffer.allocUnsafeSlow(size);
  let j = 0;
  at = 0;
  for (let p = 0; p < strings.length; p++) {
    const end = ends[p]!;
    if ('markup' in pieces[p]!) j += src.copy(out, j, at, end);
    else
      for (let i = at; i < end; i++) {
        const b = src[i]!;
        const ref = ENTITY_BYTES[b];
        if (!ref) out[j++] = b;
        else for (let k = 0; k < ref.length; k++) out[j++] = ref[k]!;
      }
    at = end;
  }
  return out;
}
