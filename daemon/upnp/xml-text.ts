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

/**
 * `escapeXml(text)` as UTF-8 bytes, in one pass over the bytes. A Browse answer's Result is a whole
 * DIDL-Lite document (about 90 KB for 100 tracks): one string replace per character kind copied it
 * six times on V8's young heap, most of what a Browse allocated. These bytes live outside the heap
 * and go to the socket as they are.
 */
export function escapeXmlUtf8(text: string): Buffer {
  const src = Buffer.from(UNSAFE.test(text) ? text.replace(INVALID, '').replace(LONE_SURROGATE, '\uFFFD') : text, 'utf8');
  let size = src.length;
  for (let i = 0; i < src.length; i++) {
    const ref = ENTITY_BYTES[src[i]!];
    if (ref) size += ref.length - 1;
  }
  if (size === src.length) return src;
  const out = Buffer.allocUnsafe(size);
  let j = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    const ref = ENTITY_BYTES[b];
    if (!ref) out[j++] = b;
    else for (let k = 0; k < ref.length; k++) out[j++] = ref[k]!;
  }
  return out;
}
