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
