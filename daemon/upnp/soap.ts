// SOAP control (UDA 1.0 §3.2): read a capped body, refuse DTDs before any parsing, parse the envelope
// with entity processing off, check SOAPACTION against the body and the service, call the service, and
// write either `u:<Action>Response` or a fault. UpnpError becomes a SOAP fault here and nowhere else.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Context } from 'koa';
import { XMLValidator } from 'fast-xml-parser';
import type { Logger } from '../log.js';
import { normalizeIp } from '../net.js';
import { discardBody } from '../http/errors.js';
import { allowBody } from '../http/body.js';
import { UPNP_ERRORS, UpnpError, type ActionArgs, type ActionResult, type UpnpErrorCode, type UpnpRequestInfo, type UpnpService } from './service.js';
import { escapeXml, xmlUtf8, type XmlPiece } from './xml-text.js';
import { childrenOf, decodeXmlText as decodeXml, elementName, unsafeXmlReason, type OrderedNode, orderedXmlParser } from '../xml-read.js';

/** Real control requests are a few KB; a Browse with a long filter stays far below this. */
export const SOAP_BODY_LIMIT = 64 * 1024;
/** A body that trickles in slower than this is dropped, so a slow sender cannot hold a request open. */
const SOAP_BODY_TIMEOUT_MS = 10_000;

/** A request that is not a usable SOAP call, with the HTTP status it gets. */
export class SoapRequestError extends Error {
  constructor(
    readonly status: 400 | 408 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'SoapRequestError';
  }
}

/**
 * Reads the body up to `limit` bytes; 413 past it (before parsing anything, and before a client
 * waiting on "Expect: 100-continue" is let to send it: `res` given), 408 when too slow.
 */
export function readSoapBody(req: IncomingMessage, limit = SOAP_BODY_LIMIT, timeoutMs = SOAP_BODY_TIMEOUT_MS, res?: ServerResponse): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new SoapRequestError(413, `body over ${limit} bytes`));
  if (res) allowBody(req, res);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: SoapRequestError | null) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(new SoapRequestError(413, `body over ${limit} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onClose = () => finish(new SoapRequestError(400, 'request aborted'));
    const timer = setTimeout(() => finish(new SoapRequestError(408, 'body too slow')), timeoutMs);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  });
}

export interface SoapAction {
  serviceType: string;
  action: string;
}

/** `"urn:schemas-upnp-org:service:ContentDirectory:1#Browse"` (quotes optional) → its two parts. */
export function parseSoapActionHeader(value: string | undefined): SoapAction | null {
  if (!value) return null;
  let v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  const hash = v.lastIndexOf('#');
  if (hash <= 0) return null;
  const serviceType = v.slice(0, hash);
  const action = v.slice(hash + 1);
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(action)) return null;
  return { serviceType, action };
}

/** True when `requested` names our service type at our version or an earlier one (UDA 1.0 §2.1). */
export function serviceTypeMatches(requested: string, ours: string): boolean {
  if (requested === ours) return true;
  const m = /^(.*):(\d+)$/.exec(requested);
  const o = /^(.*):(\d+)$/.exec(ours);
  return !!m && !!o && m[1] === o[1] && Number(m[2]) >= 1 && Number(m[2]) <= Number(o[2]);
}

// No document type declarations at all (SOAP 1.1 §3: a message MUST NOT contain one; see
// unsafeXmlReason): this refuses XXE, billion laughs and every entity-expansion bug of the parser
// before it sees a byte. Comments and CDATA are the only `<!` constructs allowed.
// Envelope/Body/Action/Arg is four deep.
const parser = orderedXmlParser({ maxNestedTags: 16 });

/** Text of a SOAP argument: the five XML entities and character references, anything else a 400. */
export function decodeXmlText(text: string): string {
  return decodeXml(text, (message) => new SoapRequestError(400, message));
}

function elements(nodes: OrderedNode[]): Array<{ name: string; node: OrderedNode }> {
  const out: Array<{ name: string; node: OrderedNode }> = [];
  for (const node of nodes) {
    const name = elementName(node);
    if (name !== null) out.push({ name, node });
  }
  return out;
}

/** The text of a leaf argument: text (entity-decoded) and CDATA (as is), in order. */
function argText(action: string, name: string, nodes: OrderedNode[]): string {
  let s = '';
  for (const n of nodes) {
    if (typeof n['#text'] === 'string') s += decodeXmlText(n['#text']);
    else if (Array.isArray(n['#cdata'])) for (const c of n['#cdata'] as OrderedNode[]) s += typeof c['#text'] === 'string' ? c['#text'] : '';
    else if (elementName(n) !== null) throw new UpnpError(402, `${action}: argument ${name} must be text`);
  }
  return s;
}

export interface SoapCall {
  action: string;
  args: ActionArgs;
}

/** Parses a SOAP envelope into the action name and its arguments. SoapRequestError or UpnpError(402). */
export function parseSoapEnvelope(text: string): SoapCall {
  const unsafe = unsafeXmlReason(text);
  if (unsafe) throw new SoapRequestError(400, unsafe);
  if (XMLValidator.validate(text) !== true) throw new SoapRequestError(400, 'malformed XML');
  let doc: OrderedNode[];
  try {
    doc = parser.parse(text) as OrderedNode[];
  } catch {
    throw new SoapRequestError(400, 'malformed XML');
  }
  const roots = elements(doc);
  if (roots.length !== 1 || roots[0]!.name !== 'Envelope') throw new SoapRequestError(400, 'not a SOAP envelope');
  const body = elements(childrenOf(roots[0]!.node, 'Envelope')).filter((e) => e.name === 'Body');
  if (body.length !== 1) throw new SoapRequestError(400, 'SOAP envelope without one Body');
  const calls = elements(childrenOf(body[0]!.node, 'Body'));
  if (calls.length !== 1) throw new SoapRequestError(400, 'SOAP Body must hold exactly one action');
  const action = calls[0]!.name;
  const entries: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const arg of elements(childrenOf(calls[0]!.node, action))) {
    if (seen.has(arg.name)) throw new UpnpError(402, `${action}: argument ${arg.name} given twice`);
    seen.add(arg.name);
    entries.push([arg.name, argText(action, arg.name, childrenOf(arg.node, arg.name))]);
  }
  // fromEntries defines own properties, so even an argument called "__proto__" stays a plain key.
  return { action, args: Object.freeze(Object.fromEntries(entries)) };
}

const ENVELOPE_OPEN = '<?xml version="1.0" encoding="utf-8"?>\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>';
const ENVELOPE_CLOSE = '</s:Body></s:Envelope>\n';

/** The answer's bytes, in one allocation: each out-argument escaped straight into UTF-8 (see xmlUtf8). */
export function soapResponse(serviceType: string, action: string, result: ActionResult): Buffer {
  const pieces: XmlPiece[] = [{ markup: `${ENVELOPE_OPEN}<u:${action}Response xmlns:u="${escapeXml(serviceType)}">` }];
  // Out-arguments in insertion order: services add them in the order their SCPD lists them.
  for (const [k, v] of Object.entries(result)) pieces.push({ markup: `<${k}>` }, { text: String(v) }, { markup: `</${k}>` });
  pieces.push({ markup: `</u:${action}Response>${ENVELOPE_CLOSE}` });
  return xmlUtf8(pieces);
}

export function soapFault(code: number, description: string): string {
  return (
    `${ENVELOPE_OPEN}<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>` +
    `<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${escapeXml(description)}</errorDescription></UPnPError>` +
    `</detail></s:Fault>${ENVELOPE_CLOSE}`
  );
}

function hostUrl(ip: string, port: number): string {
  return isIP(ip) === 6 ? `http://[${ip}]:${port}` : `http://${ip}:${port}`;
}

/** What a service may know about the request (service.ts `UpnpRequestInfo`). */
export function requestInfo(ctx: Context): UpnpRequestInfo {
  const socket = ctx.req.socket;
  const localAddress = normalizeIp(socket.localAddress ?? '');
  const localPort = socket.localPort ?? 0;
  return {
    remoteAddress: normalizeIp(socket.remoteAddress ?? ''),
    localAddress,
    localPort,
    headers: ctx.req.headers,
    baseUrl: hostUrl(localAddress, localPort),
  };
}

function sendXml(ctx: Context, status: number, body: string | Buffer, server: string): void {
  ctx.status = status;
  ctx.type = 'text/xml; charset="utf-8"';
  ctx.set('EXT', ''); // UDA 1.0 §3.2.2: required, empty, in every control response
  ctx.set('Server', server);
  ctx.body = body;
}

/** The POST handler for one service's control URL. */
export async function handleControl(ctx: Context, service: UpnpService, log: Logger, server: string): Promise<void> {
  let call: SoapCall | null = null;
  try {
    const header = parseSoapActionHeader(ctx.get('SOAPACTION') || undefined);
    // Read and parse first: a 413 or malformed body is answered the same whatever the header says.
    const bytes = await readSoapBody(ctx.req, SOAP_BODY_LIMIT, SOAP_BODY_TIMEOUT_MS, ctx.res);
    call = parseSoapEnvelope(bytes.toString('utf8').replace(/^\uFEFF/, ''));
    if (!header || !serviceTypeMatches(header.serviceType, service.type) || header.action !== call.action) {
      throw new UpnpError(401, 'SOAPACTION does not name this service and the action in the body');
    }
    const result = await service.handle(call.action, call.args, requestInfo(ctx));
    log.debug({ service: service.name, action: call.action, from: ctx.req.socket.remoteAddress }, 'SOAP action');
    sendXml(ctx, 200, soapResponse(service.type, call.action, result), server);
  } catch (err) {
    if (err instanceof SoapRequestError) {
      log.debug({ service: service.name, status: err.status, reason: err.message, from: ctx.req.socket.remoteAddress }, 'SOAP request refused');
      // Drop the rest of a refused body before answering, or the client sees a reset instead; a sender
      // too slow to finish (408) is not waited for again.
      if (err.status === 408 || !(await discardBody(ctx.req))) ctx.set('Connection', 'close');
      sendXml(ctx, err.status, soapFault(402, err.message), server);
      return;
    }
    let code: UpnpErrorCode = 501;
    let description: string = UPNP_ERRORS[501];
    if (err instanceof UpnpError) {
      code = err.code;
      description = err.message;
    } else {
      log.error({ err, service: service.name, action: call?.action }, 'UPnP action failed');
    }
    log.debug({ service: service.name, action: call?.action, code }, 'SOAP fault');
    // UDA 1.0 §3.2.2: errors are HTTP 500 with a UPnPError in the fault detail.
    sendXml(ctx, 500, soapFault(code, description), server);
  }
}
