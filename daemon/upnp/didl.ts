// The one DIDL-Lite writer: plain typed objects in, an XML string out. Pure, no catalogue, no HTTP.
// Browse, Search and CreateObject answers all come from here; renderer differences arrive
// as quirk flags in `quirks` (issue 4), never as checks for a brand.
import { formatDuration } from '../media/dlna.js';

export interface DidlResource {
  /** Empty for an upload placeholder, whose content is still to come. */
  uri: string;
  /** Where a control point sends the content of an upload placeholder (DLNA res@importUri). */
  importUri?: string | null;
  protocolInfo: string;
  /** bytes */
  size?: number | null;
  durationMs?: number | null;
  /** res@bitrate is in bytes per second (UPnP AV ContentDirectory:1, Appendix B.2) */
  bytesPerSecond?: number | null;
  sampleFrequency?: number | null;
  nrAudioChannels?: number | null;
  bitsPerSample?: number | null;
}

interface DidlCommon {
  id: string;
  parentId: string;
  title: string;
  /** e.g. object.item.audioItem.musicTrack, object.container.album.musicAlbum */
  upnpClass: string;
  /** Default true: nothing in the tree can be changed by a control point except in Uploads. */
  restricted?: boolean;
  /** DLNA OCM flags (`@dlna:dlnaManaged`, written as 8 hex digits); absent when none apply. */
  dlnaManaged?: number | null;
  creator?: string | null;
  artist?: string | null;
  genre?: string | null;
  /** `YYYY-MM-DD` */
  date?: string | null;
  /** JPEG_TN thumbnail */
  albumArtUri?: string | null;
}

export interface DidlItem extends DidlCommon {
  kind: 'item';
  /** The canonical object this one stands for (the same track listed in another view). */
  refId?: string | null;
  album?: string | null;
  originalTrackNumber?: number | null;
  resources: DidlResource[];
}

export interface DidlCreateClass {
  upnpClass: string;
  includeDerived: boolean;
}

export interface DidlContainer extends DidlCommon {
  kind: 'container';
  childCount?: number | null;
  searchable?: boolean;
  /** Classes a control point may create here (upnp:createClass). */
  createClasses?: readonly DidlCreateClass[];
}

export type DidlObject = DidlItem | DidlContainer;

/**
 * Renderer differences for the writer: the quirk flags of the client's profile that change
 * DIDL-Lite (profiles/README.md), under the same names. Each is applied in one place, writeDidl;
 * none set gives the same bytes as no quirks at all.
 */
export interface DidlQuirks {
  /** Every non-ASCII character as a numeric character reference, `&#x96E8;` (Yamaha RX/MusicCast: Gerbera ASCIIXML). */
  asciiXml?: boolean;
  /**
   * Strictly valid XML only (Bose SoundTouch: Gerbera STRICTXML). Everyone gets XML-legal text
   * without C0/C1 controls; this also turns TAB, LF and CR into spaces, drops the Unicode
   * noncharacters XML 1.0 §2.2 discourages, and writes no vendor namespace (it wins over samsungExtensions).
   */
  dlnaStrictXml?: boolean;
  /**
   * Samsung's `sec:` namespace declared on DIDL-Lite (MiniDLNA FLAG_SAMSUNG, Gerbera). For audio that
   * is all MiniDLNA changes in DIDL: its sec:dcmInfo carries a bookmark (hifid keeps none) and
   * sec:CaptionInfoEx a video's subtitles; the dlna namespace and albumArtURI@dlna:profileID that
   * it adds for Samsung whatever the Filter, hifid writes for everyone.
   */
  samsungExtensions?: boolean;
}

/** Which optional properties to write: everything, or the names a Filter listed. */
export type DidlFilter = { all: true } | { all: false; names: ReadonlySet<string> };

export const FILTER_ALL: DidlFilter = { all: true };

/**
 * Parses the Browse/Search Filter argument: `*` or a comma-separated list such as
 * `dc:title,upnp:artist,res@duration,@childCount`. Required properties (@id, @parentID, @restricted,
 * dc:title, upnp:class, res@protocolInfo) are always written; unknown names are ignored.
 * A `res@…` or `upnp:albumArtURI@…` name implies its element.
 */
export function parseFilter(filter: string | undefined): DidlFilter {
  const raw = (filter ?? '*').trim();
  if (raw === '' || raw.split(',').some((n) => n.trim() === '*')) return FILTER_ALL;
  const names = new Set<string>();
  for (const part of raw.split(',')) {
    const n = part.trim();
    if (!n) continue;
    names.add(n);
    const at = n.indexOf('@');
    if (at > 0) names.add(n.slice(0, at));
  }
  return { all: false, names };
}

function wants(f: DidlFilter, name: string): boolean {
  return f.all || f.names.has(name);
}

// XML 1.0 allows TAB, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD and paired surrogates. Everything else is
// dropped, plus C1 controls (U+007F–U+009F): legal XML 1.0 but never real text in a tag, and some
// renderer parsers choke on them.
const NEEDS_WORK = /[&<>"'\r\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ud800-\udfff\ufffe\uffff]/;
const ILLEGAL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// A CR is written as a reference: parsers turn a literal one into LF.
const ENTITY: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/**
 * Escapes text for element content and double-quoted attributes alike; removes XML-illegal
 * characters. Emoji and every other valid character stay literal (UTF-8 on the wire).
 */
export function xmlEscape(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return s.replace(ILLEGAL, '').replace(/[&<>"'\r]/g, (c) => ENTITY[c]!);
}

function element(name: string, value: string | number | null | undefined, attrs = ''): string {
  if (value === null || value === undefined || value === '') return '';
  return `<${name}${attrs}>${typeof value === 'number' ? value : xmlEscape(value)}</${name}>`;
}

function attr(name: string, value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return ` ${name}="${typeof value === 'number' ? value : xmlEscape(value)}"`;
}

function nonNegInt(n: number | null | undefined): number | null {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.round(n) : null;
}

function writeRes(r: DidlResource, f: DidlFilter): string {
  const w = (name: string) => wants(f, `res@${name}`);
  return (
    `<res${attr('protocolInfo', r.protocolInfo)}` +
    attr('importUri', r.importUri) +
    (w('size') ? attr('size', nonNegInt(r.size)) : '') +
    (w('duration') && r.durationMs ? attr('duration', formatDuration(r.durationMs)) : '') +
    (w('bitrate') ? attr('bitrate', nonNegInt(r.bytesPerSecond)) : '') +
    (w('sampleFrequency') ? attr('sampleFrequency', nonNegInt(r.sampleFrequency)) : '') +
    (w('nrAudioChannels') ? attr('nrAudioChannels', nonNegInt(r.nrAudioChannels)) : '') +
    (w('bitsPerSample') ? attr('bitsPerSample', nonNegInt(r.bitsPerSample)) : '') +
    `>${xmlEscape(r.uri)}</res>`
  );
}

function dlnaManaged(o: DidlObject, f: DidlFilter): string {
  if (o.dlnaManaged == null || !wants(f, '@dlna:dlnaManaged')) return '';
  // %08x, as gupnp-av writes and parses it.
  return attr('dlna:dlnaManaged', (o.dlnaManaged >>> 0).toString(16).padStart(8, '0'));
}

function writeCommonProps(o: DidlObject, f: DidlFilter): string {
  return (
    `<dc:title>${xmlEscape(o.title)}</dc:title>` +
    (wants(f, 'dc:creator') ? element('dc:creator', o.creator) : '') +
    (wants(f, 'upnp:artist') ? element('upnp:artist', o.artist) : '')
  );
}

function writeTail(o: DidlObject, f: DidlFilter): string {
  return (
    (wants(f, 'upnp:genre') ? element('upnp:genre', o.genre) : '') +
    (wants(f, 'dc:date') ? element('dc:date', o.date) : '') +
    // DLNA 7.3.61: albumArtURI carries the profile of the image it points to. One JPEG_TN (≤ 160 px)
    // for every client, which is what profiles with albumArtJpegTn (PS3, Bravia) need.
    (wants(f, 'upnp:albumArtURI') ? element('upnp:albumArtURI', o.albumArtUri, ' dlna:profileID="JPEG_TN"') : '') +
    element('upnp:class', o.upnpClass)
  );
}

function writeItem(o: DidlItem, f: DidlFilter): string {
  const head =
    `<item${attr('id', o.id)}${attr('parentID', o.parentId)}` +
    (o.refId && wants(f, '@refID') ? attr('refID', o.refId) : '') +
    attr('restricted', o.restricted === false ? '0' : '1') +
    dlnaManaged(o, f) +
    '>';
  return (
    head +
    writeCommonProps(o, f) +
    (wants(f, 'upnp:album') ? element('upnp:album', o.album) : '') +
    (wants(f, 'upnp:originalTrackNumber') ? element('upnp:originalTrackNumber', nonNegInt(o.originalTrackNumber)) : '') +
    writeTail(o, f) +
    (wants(f, 'res') ? o.resources.map((r) => writeRes(r, f)).join('') : '') +
    '</item>'
  );
}

function writeContainer(o: DidlContainer, f: DidlFilter): string {
  const head =
    `<container${attr('id', o.id)}${attr('parentID', o.parentId)}` +
    attr('restricted', o.restricted === false ? '0' : '1') +
    (wants(f, '@searchable') && o.searchable !== undefined ? attr('searchable', o.searchable ? '1' : '0') : '') +
    (wants(f, '@childCount') ? attr('childCount', nonNegInt(o.childCount)) : '') +
    dlnaManaged(o, f) +
    '>';
  const createClasses = wants(f, 'upnp:createClass') ? (o.createClasses ?? []).map((c) => element('upnp:createClass', c.upnpClass, attr('includeDerived', c.includeDerived ? '1' : '0'))).join('') : '';
  return head + writeCommonProps(o, f) + createClasses + writeTail(o, f) + '</container>';
}

export const DIDL_OPEN =
  '<DIDL-Lite xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" xmlns:dlna="urn:schemas-dlna-org:metadata-1-0/">';
export const DIDL_CLOSE = '</DIDL-Lite>';
/** DIDL_OPEN declaring Samsung's namespace too (samsungExtensions). */
const DIDL_OPEN_SEC = `${DIDL_OPEN.slice(0, -1)} xmlns:sec="http://www.sec.co.kr/">`;

// dlnaStrictXml: TAB, LF and CR (a CR is written as &#13;) become spaces: our own markup has none.
const STRICT_CONTROLS = /[\t\n]|&#13;/g;
// …and the noncharacters U+FDD0–U+FDEF and U+nFFFE/U+nFFFF of planes 1–16 (those of plane 0 are
// dropped for everyone with the other XML-illegal characters).
const NONCHARACTERS = new RegExp(
  `[\\uFDD0-\\uFDEF${Array.from({ length: 16 }, (_, i) => `\\u{${(i + 1).toString(16)}FFFE}\\u{${(i + 1).toString(16)}FFFF}`).join('')}]`,
  'gu',
);
const NON_ASCII = /[^\u0000-\u007f]/gu;

function strictXml(doc: string): string {
  return doc.replace(STRICT_CONTROLS, ' ').replace(NONCHARACTERS, '');
}

/** asciiXml: every non-ASCII character (one code point, emoji included) as a numeric character reference. */
function asciiXml(doc: string): string {
  return doc.replace(NON_ASCII, (c) => `&#x${c.codePointAt(0)!.toString(16).toUpperCase()};`);
}

export interface DidlOptions {
  filter?: DidlFilter;
  quirks?: DidlQuirks;
}

/** One DIDL-Lite document holding `objects` in order. */
export function writeDidl(objects: readonly DidlObject[], opts: DidlOptions = {}): string {
  const f = opts.filter ?? FILTER_ALL;
  const q = opts.quirks ?? {};
  // One join makes one flat string; a chain of += would leave a rope to be flattened by the next reader.
  const parts = [q.samsungExtensions && !q.dlnaStrictXml ? DIDL_OPEN_SEC : DIDL_OPEN];
  for (const o of objects) parts.push(o.kind === 'item' ? writeItem(o, f) : writeContainer(o, f));
  parts.push(DIDL_CLOSE);
  // Character-level rules hold for the whole document, so they are applied to it once, strict first.
  let doc = parts.join('');
  if (q.dlnaStrictXml) doc = strictXml(doc);
  if (q.asciiXml) doc = asciiXml(doc);
  return doc;
}
