// CreateObject's `Elements` argument: one DIDL-Lite object from a control point, parsed the way
// soap.ts parses envelopes (no DTDs, no entities beyond the five XML ones, namespace prefixes dropped)
// and checked as Rygel checks it (rygel-object-creator.vala): every problem with the metadata is 712.
import { XMLValidator } from 'fast-xml-parser';
import { SoapRequestError, decodeXmlText } from './soap.js';
import { DANGEROUS_TAG, MARKUP_DECLARATION, childrenOf, elementName, textOf, type OrderedNode, orderedXmlParser } from '../xml-read.js';
import { UpnpError } from './service.js';

/** DLNA OCM flags (dlna:dlnaManaged), as gupnp-av defines them. */
export const OCM = { UPLOAD: 0x01, CREATE_CONTAINER: 0x02, DESTROYABLE: 0x04, UPLOAD_DESTROYABLE: 0x08, CHANGE_METADATA: 0x10 } as const;

export const AUDIO_ITEM_CLASS = 'object.item.audioItem';

export interface RequestedItem {
  title: string;
  /** e.g. object.item.audioItem.musicTrack */
  upnpClass: string;
  /** The MIME type of the first `<res>`'s protocolInfo when it names an audio type, else null. */
  mime: string | null;
}

// DIDL-Lite/item/res is three deep; comments are kept so they can be refused.
const parser = orderedXmlParser({ maxNestedTags: 8, attributes: true, comments: true });

function attrs(node: OrderedNode): Record<string, string> {
  const a = node[':@'];
  return a && typeof a === 'object' ? (a as Record<string, string>) : {};
}


function bad(message: string): UpnpError {
  return new UpnpError(712, `Bad metadata: ${message}`);
}

/**
 * Parses and checks the one object CreateObject asks for. A container is refused with 713 (nothing
 * here may create containers); everything else that is wrong is 712. The class is checked by the
 * caller, which knows the target container.
 */
export function parseCreateElements(elements: string): RequestedItem {
  try {
    return parseChecked(elements);
  } catch (err) {
    // An undefined entity or a bad character reference in the metadata is bad metadata too.
    if (err instanceof SoapRequestError) throw bad(err.message);
    throw err;
  }
}

function parseChecked(elements: string): RequestedItem {
  if (elements.trim() === '') throw bad('Elements is empty');
  if (MARKUP_DECLARATION.test(elements)) throw bad('document type declarations are not allowed');
  // Rygel refuses comments in Elements too: nothing a control point means can hide in one.
  if (elements.includes('<!--')) throw bad('comments are not allowed in Elements');
  if (DANGEROUS_TAG.test(elements)) throw bad('reserved element name');
  if (XMLValidator.validate(elements) !== true) throw bad('malformed XML');
  let doc: OrderedNode[];
  let roots: OrderedNode[];
  try {
    doc = parser.parse(elements) as OrderedNode[];
    roots = doc.filter((n) => elementName(n) !== null);
  } catch (err) {
    if (err instanceof UpnpError) throw err;
    throw bad('malformed XML');
  }
  if (roots.length !== 1 || elementName(roots[0]!) !== 'DIDL-Lite') throw bad('the root element must be DIDL-Lite');
  const objects = childrenOf(roots[0]!, 'DIDL-Lite').filter((n) => elementName(n) !== null);
  if (objects.length !== 1) throw bad('Elements must hold exactly one object');
  const obj = objects[0]!;
  const kind = elementName(obj)!;
  if (kind === 'container') throw new UpnpError(713, 'Restricted parent object: containers cannot be created on this server');
  if (kind !== 'item') throw bad(`unexpected element <${kind.slice(0, 32)}>`);
  const a = attrs(obj);
  if (a.id === undefined || decodeXmlText(a.id) !== '') throw bad('@id must be set to "" in CreateObject');
  const restricted = a.restricted === undefined ? undefined : decodeXmlText(a.restricted).trim().toLowerCase();
  if (restricted === undefined) throw bad('@restricted must be present (and 0)');
  if (restricted !== '0' && restricted !== 'false') throw bad('cannot create a restricted item');
  if (a.dlnaManaged !== undefined) {
    const v = decodeXmlText(a.dlnaManaged).trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(v)) throw bad('@dlna:dlnaManaged must be hexadecimal');
    // An item can be neither uploaded into nor hold uploads (Rygel refuses these too).
    if (parseInt(v, 16) & (OCM.UPLOAD | OCM.CREATE_CONTAINER | OCM.UPLOAD_DESTROYABLE)) throw bad('@dlna:dlnaManaged has flags an item cannot have');
  }
  let title: string | null = null;
  let upnpClass: string | null = null;
  let mime: string | null = null;
  let sawRes = false;
  for (const child of childrenOf(obj, 'item')) {
    const name = elementName(child);
    if (name === null) continue;
    if (name === 'title') {
      if (title !== null) throw bad('dc:title given twice');
      title = textOf(childrenOf(child, name), decodeXmlText).trim();
    } else if (name === 'class') {
      if (upnpClass !== null) throw bad('upnp:class given twice');
      upnpClass = textOf(childrenOf(child, name), decodeXmlText).trim();
    } else if (name === 'res' && !sawRes) {
      sawRes = true;
      // protocolInfo is `<protocol>:<network>:<contentFormat>:<additionalInfo>`; only a MIME type is kept.
      const info = attrs(child).protocolInfo;
      const format = info !== undefined ? decodeXmlText(info).split(':')[2] : undefined;
      if (format && /^audio\/[A-Za-z0-9.+-]{1,64}$/.test(format)) mime = format.toLowerCase();
    }
  }
  if (!title) throw bad('dc:title must not be empty');
  if (title.length > 512) throw bad('dc:title is too long');
  if (!upnpClass || !upnpClass.startsWith('object')) throw bad('invalid upnp:class');
  if (upnpClass.length > 256) throw bad('upnp:class is too long');
  return { title, upnpClass, mime };
}

/** True for object.item.audioItem and every class derived from it. */
export function isAudioItemClass(upnpClass: string): boolean {
  return upnpClass === AUDIO_ITEM_CLASS || upnpClass.startsWith(`${AUDIO_ITEM_CLASS}.`);
}
