// Reading XML that comes from other devices (SOAP calls, DIDL-Lite from control points, device
// descriptions, XSPF playlists). fast-xml-parser runs in ordered mode with its entity processing
// off; the five predefined entities and character references are decoded here, and DOCTYPE/ENTITY
// declarations and prototype-named tags are refused before parsing. One place, so every reader
// refuses the same things.
import { XMLParser } from 'fast-xml-parser';

/** A markup declaration (`<!DOCTYPE`, `<!ENTITY`): never needed by what we read, the door to XXE. */
export const MARKUP_DECLARATION = /<!(?!--|\[CDATA\[)/;
/** Tag names that would become prototype keys in the parsed objects. */
export const DANGEROUS_TAG = /<\/?\s*(?:[A-Za-z0-9_.-]+:)?(?:__proto__|constructor|prototype)[\s/>]/;

/** Why `xml` must not be parsed, or null. */
export function unsafeXmlReason(xml: string): string | null {
  if (MARKUP_DECLARATION.test(xml)) return 'document type declarations are not allowed';
  if (DANGEROUS_TAG.test(xml)) return 'reserved element name';
  return null;
}

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Decodes the five predefined entities and character references in one pass (`&amp;lt;` → `&lt;`).
 * Anything else (an undefined entity, a reference to a character XML cannot hold) goes to `fail`.
 */
export function decodeXmlText(text: string, fail: (message: string) => Error): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z]{2,4});/g, (_, ref: string) => {
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!isXmlChar(cp)) throw fail(`invalid character reference &${ref};`);
      return String.fromCodePoint(cp);
    }
    const c = NAMED[ref];
    if (c === undefined) throw fail(`undefined entity &${ref};`);
    return c;
  });
}

/**
 * A parser for untrusted XML: ordered output (text and CDATA in document order, arrays, never merged
 * objects), no entity processing (decodeXmlText does the five XML ones), namespace prefixes dropped,
 * values left as text. Attributes (unprefixed names, raw values) and comments only when asked for.
 */
export function orderedXmlParser(opts: { maxNestedTags: number; attributes?: boolean; comments?: boolean }): XMLParser {
  return new XMLParser({
    preserveOrder: true,
    processEntities: false,
    htmlEntities: false,
    ignoreAttributes: !opts.attributes,
    ...(opts.attributes ? { attributeNamePrefix: '', parseAttributeValue: false } : {}),
    ...(opts.comments ? { commentPropName: '#comment' } : {}),
    removeNSPrefix: true,
    parseTagValue: false,
    trimValues: false,
    cdataPropName: '#cdata',
    ignoreDeclaration: true,
    ignorePiTags: true,
    maxNestedTags: opts.maxNestedTags,
  });
}

/** A node of fast-xml-parser's ordered (`preserveOrder`) output. */
export type OrderedNode = Record<string, unknown>;

/** The element name of an ordered node, or null for text, CDATA and comments. */
export function elementName(node: OrderedNode): string | null {
  for (const k of Object.keys(node)) if (k !== ':@' && !k.startsWith('#')) return k;
  return null;
}

/** The children of the element `name` held by `node`. */
export function childrenOf(node: OrderedNode, name: string): OrderedNode[] {
  const c = node[name];
  return Array.isArray(c) ? (c as OrderedNode[]) : [];
}

/** The text and CDATA among `nodes`, in document order; text is decoded by `decode`, CDATA is taken as it is. */
export function textOf(nodes: OrderedNode[], decode: (text: string) => string): string {
  let s = '';
  for (const n of nodes) {
    if (typeof n['#text'] === 'string') s += decode(n['#text']);
    else if (Array.isArray(n['#cdata'])) for (const c of n['#cdata'] as OrderedNode[]) s += typeof c['#text'] === 'string' ? c['#text'] : '';
  }
  return s;
}
