// The UPnP MediaServer device: its persistent identity (UDN), the HTTP routes (description, SCPDs,
// control, eventing, icons) and the start/stop of SSDP and GENA. The services themselves are passed in.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { PACKAGE_ROOT, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { mkdirDurable, writeFileDurable } from '../library/durable.js';
import { deviceDescription, ICONS, MEDIA_SERVER_TYPE, UPNP_PATHS } from './description.js';
import { Gena, type GenaLimits } from './events.js';
import { handleControl, requestInfo } from './soap.js';
import { Ssdp } from './ssdp.js';
import type { UpnpService } from './service.js';

export interface MediaServerDeps {
  config: Pick<Config, 'name' | 'port' | 'interface'>;
  log: Logger;
  services: UpnpService[];
  version: string;
  /** <data-dir>/state: where the UDN is kept. */
  stateDir: string;
  /** DLNA capabilities for the description (X_DLNACAP): audio upload when it is on. */
  dlnaCaps?: readonly string[];
  /** Tests only: tighter GENA limits. */
  genaLimits?: Partial<GenaLimits>;
}

const UDN_PATTERN = /^uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The device's UDN, made once and kept in `<state>/udn`: TVs remember a server by it, so a restart
 * or a rename must not make it a new device (Gerbera does the same).
 */
export async function loadOrCreateUdn(stateDir: string, log: Logger): Promise<string> {
  const file = path.join(stateDir, 'udn');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (UDN_PATTERN.test(text)) return text.toLowerCase();
    log.warn({ file }, 'UDN file is damaged; making a new one (control points will see a new device)');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const udn = `uuid:${randomUUID()}`;
  await mkdirDurable(stateDir);
  await writeFileDurable(file, `${udn}\n`);
  log.info({ udn }, 'new UPnP device identity');
  return udn;
}

/** `SERVER`/`Server` value for SSDP, SOAP and GENA: `OS/version UPnP/1.0 product/version`. */
export function serverHeader(version: string): string {
  const clean = (s: string) => s.replace(/[^\x21-\x7e]/g, '_');
  return `${clean(os.type())}/${clean(os.release())} UPnP/1.0 DLNADOC/1.50 hifid/${clean(version)}`;
}

const ICON_DIR = path.join(PACKAGE_ROOT, 'daemon', 'upnp', 'icons');

export class MediaServer {
  private udnValue: string | null = null;
  private description: string | null = null;
  private ssdp: Ssdp | null = null;
  private readonly gena: Gena;
  private readonly server: string;
  private readonly icons = new Map<string, Promise<Buffer>>();

  constructor(private readonly deps: MediaServerDeps) {
    const slugs = new Set<string>();
    for (const s of deps.services) {
      // Slugs become URL path segments as they are.
      if (!/^[a-z0-9-]{1,32}$/.test(s.slug) || slugs.has(s.slug)) throw new Error(`UPnP service ${s.name}: bad or repeated slug ${JSON.stringify(s.slug)}`);
      slugs.add(s.slug);
    }
    this.server = serverHeader(deps.version);
    this.gena = new Gena(deps.services, deps.log.child({ module: 'gena' }), this.server, deps.genaLimits);
  }

  get udn(): string | null {
    return this.udnValue;
  }

  /** The SSDP layer, once started: renderer discovery listens and searches through it. */
  get ssdpChannel(): Ssdp | null {
    return this.ssdp;
  }

  router(): Router {
    const router = new Router({ methods: ['HEAD', 'OPTIONS', 'GET', 'POST', 'SUBSCRIBE', 'UNSUBSCRIBE'] });
    const xml = (ctx: Context, body: string) => {
      ctx.type = 'text/xml; charset="utf-8"';
      ctx.set('Server', this.server);
      ctx.body = body;
    };
    router.get(UPNP_PATHS.description, (ctx) => {
      // Only between listen() and start(): nobody knows the URL yet except from an old announcement.
      if (!this.description) {
        ctx.status = 503;
        ctx.set('Retry-After', '1');
        ctx.body = '';
        return;
      }
      xml(ctx, this.description);
    });
    for (const service of this.deps.services) {
      router.get(UPNP_PATHS.scpd(service.slug), (ctx) => xml(ctx, service.scpd(requestInfo(ctx))));
      router.post(UPNP_PATHS.control(service.slug), (ctx) => handleControl(ctx, service, this.deps.log, this.server));
      router.register(UPNP_PATHS.event(service.slug), ['SUBSCRIBE', 'UNSUBSCRIBE'], (ctx) => this.gena.handle(ctx, service));
    }
    for (const icon of ICONS) {
      router.get(UPNP_PATHS.icon(icon.file), async (ctx) => {
        ctx.type = icon.mimetype;
        ctx.set('Cache-Control', 'max-age=86400');
        ctx.body = await this.icon(icon.file);
      });
    }
    return router;
  }

  private icon(file: string): Promise<Buffer> {
    let p = this.icons.get(file);
    if (!p) {
      p = readFile(path.join(ICON_DIR, file));
      // A failed read is not cached: the next request tries again.
      p.catch(() => this.icons.delete(file));
      this.icons.set(file, p);
    }
    return p;
  }

  /** Loads (or makes) the UDN, then starts eventing and SSDP. Call after HTTP is listening. */
  async start(): Promise<void> {
    const { deps } = this;
    this.udnValue = await loadOrCreateUdn(deps.stateDir, deps.log);
    this.description = deviceDescription({ udn: this.udnValue, friendlyName: deps.config.name, version: deps.version, services: deps.services, dlnaCaps: deps.dlnaCaps });
    this.gena.start();
    this.ssdp = new Ssdp({
      udn: this.udnValue,
      deviceType: MEDIA_SERVER_TYPE,
      serviceTypes: deps.services.map((s) => s.type),
      httpPort: deps.config.port,
      descriptionPath: UPNP_PATHS.description,
      interface: deps.config.interface,
      server: this.server,
      log: deps.log.child({ module: 'ssdp' }),
    });
    await this.ssdp.start();
    deps.log.info({ udn: this.udnValue, name: deps.config.name, services: deps.services.map((s) => s.name) }, 'UPnP MediaServer started');
  }

  /** ssdp:byebye first, so control points drop us before the HTTP side goes away. */
  async stop(): Promise<void> {
    try {
      await this.ssdp?.stop();
    } finally {
      this.ssdp = null;
      this.gena.stop();
    }
  }
}
