// A DLNA upload control point for the tests, written from what gupnp-upload and dLeyna send:
// CreateObject with DIDL-Lite Elements, Browse, the POST to importUri (Content-Type, Expect:
// 100-continue), and GUPnP-AV (the library gupnp-upload is built on) reading our answers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { REPO_ROOT } from './fixtures.js';
import { testLan } from './lan.js';
import { faultCode, soap, xmlText } from './upnp.js';

export const CDS = 'urn:schemas-upnp-org:service:ContentDirectory:1';

export const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
export const unescapeXml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** The Elements a control point sends (gupnp-upload's shape by default). */
export function elements(o: { title?: string | null; cls?: string | null; id?: string | null; restricted?: string | null; mime?: string; kind?: 'item' | 'container'; extra?: string } = {}): string {
  const kind = o.kind ?? 'item';
  const attr = (n: string, v: string | null | undefined, dflt: string) => (v === null ? '' : ` ${n}="${v ?? dflt}"`);
  return (
    '<DIDL-Lite xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" xmlns:dlna="urn:schemas-dlna-org:metadata-1-0/">' +
    `<${kind}${attr('id', o.id, '')} parentID="u"${attr('restricted', o.restricted, '0')}>` +
    (o.title === null ? '' : `<dc:title>${escapeXml(o.title ?? '01 Song.mp3')}</dc:title>`) +
    `<res protocolInfo="*:*:${o.mime ?? 'audio/mpeg'}:*"></res>` +
    (o.cls === null ? '' : `<upnp:class>${o.cls ?? 'object.item.audioItem.musicTrack'}</upnp:class>`) +
    (o.extra ?? '') +
    `</${kind}></DIDL-Lite>`
  );
}

export interface CdsCall {
  status: number;
  body: string;
  fault: number | null;
  out(name: string): string | null;
}

/** One ContentDirectory action from the phone (10.77.0.2); argument values are XML-escaped here. */
export async function cdsCall(base: string, action: string, args: Record<string, string>, headers: Record<string, string> = {}): Promise<CdsCall> {
  const escaped = Object.fromEntries(Object.entries(args).map(([k, v]) => [k, escapeXml(v)]));
  const r = await soap(`${base}/upnp/control/cds`, CDS, action, { args: escaped, headers, localAddress: testLan().phone });
  return { status: r.status, body: r.body, fault: faultCode(r.body), out: (name) => (xmlText(r.body, name) === null ? null : unescapeXml(xmlText(r.body, name)!)) };
}

export async function createObject(base: string, containerId: string, els: string, headers: Record<string, string> = {}): Promise<{ objectId: string; importUri: string; result: string }> {
  const r = await cdsCall(base, 'CreateObject', { ContainerID: containerId, Elements: els }, headers);
  assert.equal(r.status, 200, `CreateObject failed: ${r.body}`);
  const result = r.out('Result')!;
  const m = /importUri="([^"]+)"/.exec(result);
  assert.ok(m, `no importUri in ${result}`);
  return { objectId: r.out('ObjectID')!, importUri: unescapeXml(m[1]!), result };
}

type Obj = Record<string, string | Record<string, string> | Array<Record<string, string>>>;
const didlParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'item' || n === 'container' || n === 'res' || n === 'upnp:createClass', processEntities: true, htmlEntities: false, parseTagValue: false, parseAttributeValue: false });
export function didl(result: string): { containers: Obj[]; items: Obj[] } {
  const doc = (didlParser.parse(result) as Record<string, { container?: Obj[]; item?: Obj[] }>)['DIDL-Lite'] ?? {};
  return { containers: doc.container ?? [], items: doc.item ?? [] };
}

export async function browse(base: string, id: string, flag: 'BrowseDirectChildren' | 'BrowseMetadata' = 'BrowseDirectChildren'): Promise<{ fault: number | null; raw: string; containers: Obj[]; items: Obj[] }> {
  const r = await cdsCall(base, 'Browse', { ObjectID: id, BrowseFlag: flag, Filter: '*', StartingIndex: '0', RequestedCount: '0', SortCriteria: '' });
  if (r.fault !== null) return { fault: r.fault, raw: r.body, containers: [], items: [] };
  const raw = r.out('Result')!;
  return { fault: null, raw, ...didl(raw) };
}

export interface PostResult {
  status: number;
  body: string;
  gotContinue: boolean;
}

/** dLeyna's POST: Content-Type, Expect: 100-continue, and the body only after the 100. */
export function postContent(importUri: string, bytes: Buffer, o: { type?: string; chunked?: boolean; expect?: boolean } = {}): Promise<PostResult> {
  const u = new URL(importUri);
  const headers: Record<string, string | number> = {};
  if (o.type !== '') headers['Content-Type'] = o.type ?? 'audio/mpeg';
  if (!o.chunked) headers['Content-Length'] = bytes.length;
  if (o.expect !== false) headers.Expect = '100-continue';
  return new Promise((resolve, reject) => {
    let gotContinue = false;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers, localAddress: testLan().phone, agent: false });
    const send = () => {
      if (o.chunked) {
        for (let i = 0; i < bytes.length; i += 16 * 1024) req.write(bytes.subarray(i, i + 16 * 1024));
        req.end();
      } else req.end(bytes);
    };
    req.on('continue', () => {
      gotContinue = true;
      send();
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), gotContinue }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('POST timed out')));
    if (o.expect === false) send();
    else req.flushHeaders();
  });
}

export interface GupnpContainer {
  id: string;
  restricted: boolean;
  dlnaManaged: number;
  createClasses: Array<{ upnpClass: string; includeDerived: boolean }>;
}

/** GUPnP-AV (the library gupnp-upload is built on) reading a DIDL-Lite document. */
export async function gupnpParse(xml: string): Promise<{ containers: GupnpContainer[]; items: Array<{ id: string; restricted: boolean; dlnaManaged: number; resources: Array<{ importUri: string | null; mime: string | null }> }> }> {
  const child = spawn('/usr/bin/python3', [path.join(REPO_ROOT, 'test', 'helpers', 'gupnp-didl.py')]);
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stdin.end(xml);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0);
  return JSON.parse(out) as Awaited<ReturnType<typeof gupnpParse>>;
}

