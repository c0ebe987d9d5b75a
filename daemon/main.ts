#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2
// The runtime settings for a 512 MB box (the same in npm start and systemd; the test harness reads
// them from this line): V8's young generation capped at 2 MB semi-spaces instead of 16, two malloc
// arenas instead of one per thread, and blocks of 128 KB or more always mapped on their own.
// docs/ARCHITECTURE.md ("Memory") gives the measurements.
// Process entry: config → library → servers → signals. The only place that wires modules together.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { loadConfig, helpText, ConfigError, PACKAGE_ROOT, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { Library, AlreadyRunningError } from './library/library.js';
import { Ffmpeg, locateFfmpeg } from './media/ffmpeg.js';
import { createApiRouter } from './http/api.js';
import { createApp, listen, liveHostPolicy, type HttpListening } from './http/server.js';
import { bindAddresses } from './net.js';
import { releaseMemoryAfterBursts, releaseMemoryAfterStartup } from './memory.js';
import { MdnsAdvertiser } from './mdns.js';
import { createRemoteApi } from './http/remote-api.js';
import { createWebRouter, loadWebAssets } from './http/web-routes.js';
import { MediaServer, serverHeader } from './upnp/media-server.js';
import { RendererDiscovery } from './upnp/renderer-discovery.js';
import { createConnectionManager } from './upnp/connection-manager.js';
import { createRegistrar } from './upnp/registrar.js';
import { createContentDirectory } from './upnp/content-directory.js';
import { DlnaUploads, UPLOAD_DLNA_CAPS } from './upnp/uploads.js';
import { createMediaRouter, mediaPathOf } from './http/media-routes.js';
import { createResourceContext, resourcesFor as resourcesForProfile } from './media/resources.js';
import type { UpnpRequestInfo } from './upnp/service.js';
import type { StoredTrack } from './library/track.js';
import { Artwork } from './media/artwork.js';
import { loadProfiles, type Profile } from './profiles.js';
import { Transcoder } from './media/transcode.js';
import { TranscodeCache } from './media/transcode-cache.js';
import { createTranscodeRouter } from './http/transcode-routes.js';
import { clientAddress } from './http/access.js';
import { loadOrCreateIdentity } from './push/localsend/identity.js';
import { ReceiveSessions } from './push/localsend/sessions.js';
import { createLocalSendApp, listenLocalSend } from './push/localsend/server.js';
import { LocalSendDiscovery } from './push/localsend/discovery.js';

const VERSION = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Running {
  stop(): Promise<void>;
}

async function start(config: Config, log: Logger, signal: AbortSignal): Promise<Running> {
  const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  const stopAll = async () => {
    // Reverse order of start; one failing step does not keep the others from running.
    for (const s of stops.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        log.error({ err, step: s.name }, 'error while stopping');
      }
    }
  };
  try {
    const ffLoc = locateFfmpeg(config.ffmpeg);
    if (ffLoc) log.info({ ffmpeg: ffLoc.path, source: ffLoc.source }, 'ffmpeg found');
    else log.warn({ configured: config.ffmpeg }, 'ffmpeg not found: serving originals only, no transcoding, no decode check on push (set --ffmpeg or HIFID_FFMPEG, or install ffmpeg)');
    const ffmpeg = ffLoc ? new Ffmpeg(ffLoc, log.child({ module: 'ffmpeg' })) : null;

    const library = new Library(
      { dataDir: config.dataDir, musicDirs: config.musicDirs, maxUploadBytes: config.maxUploadMb * 1024 * 1024, minFreeBytes: config.minFreeMb * 1024 * 1024 },
      ffmpeg,
      log.child({ module: 'library' }),
    );
    await library.open();
    stops.push({ name: 'library', stop: () => library.close() });
    if (signal.aborted) throw signal.reason;

    // --- Profiles and transcoding (issue 4) ---
    // A broken profile file is skipped, never fatal: the stereo keeps playing with the others.
    const { profiles, errors: profileErrors } = await loadProfiles({ shipped: path.join(PACKAGE_ROOT, 'profiles'), user: path.join(config.dataDir, 'profiles') });
    for (const e of profileErrors) log.error({ file: e.file, problems: e.problems, user: e.user }, 'profile skipped: invalid');
    const transcodeCache = new TranscodeCache(path.join(library.stateDir, 'transcode-cache'), config.transcodeCacheMb * 1024 * 1024, log.child({ module: 'transcode-cache' }));
    await transcodeCache.open();
    const transcoder = new Transcoder(ffmpeg, { maxConcurrent: config.maxTranscodes }, log.child({ module: 'transcode' }));
    void transcoder.start();
    // --- end profiles and transcoding ---

    const localName = `${hostname().toLowerCase()}.local`;
    // The advertised .local name (from --name, renamed on conflict) is one the Host check accepts.
    const mdns = new MdnsAdvertiser({ name: config.name, port: config.port, version: VERSION, interface: config.interface, stateDir: library.stateDir, log: log.child({ module: 'mdns' }) });
    const hosts = liveHostPolicy(() => [localName, ...mdns.hostNames()]);
    const write = { pin: config.pin, hosts, pinFailures: new Map() };
    // --- UPnP MediaServer (issue 3) ---
    const connectionManager = createConnectionManager();
    const registrar = createRegistrar();
    const artwork = new Artwork({ cacheDir: path.join(library.stateDir, 'art'), ffmpeg, fileOf: (t) => library.fileOf(t), folderArtFile: (t) => library.folderArtFile(t), log: log.child({ module: 'artwork' }) });
    // Each Browse/Search lists, per item, what this client's renderer profile plays: the original, or a transcode.
    const resourceContext = createResourceContext({ transcoding: transcoder.isAvailable(), cache: transcodeCache, originalUrl: (t, base) => base + mediaPathOf(t) });
    // The profile is matched once per request: its res list and its quirk flags both come from it.
    const profileOfRequest = new WeakMap<UpnpRequestInfo, Profile>();
    const profileOf = (req: UpnpRequestInfo): Profile => {
      let p = profileOfRequest.get(req);
      if (!p) profileOfRequest.set(req, (p = profiles.forClient(req.remoteAddress, { headers: req.headers })));
      return p;
    };
    const resourcesFor = (req: UpnpRequestInfo) => {
      const profile = profileOf(req);
      return (t: StoredTrack) => resourcesForProfile(t, profile, req.baseUrl, resourceContext);
    };
    // DLNA upload: open to the LAN like the HTTP push; a control point cannot give a PIN, so --pin turns it off.
    const uploads = new DlnaUploads(
      {
        catalog: library.catalog,
        ingest: library.ingest,
        deleteTrack: (id) => library.deleteTrack(id),
        objectExists: (id) => contentDirectory.tree.get(id) !== null,
        ownAddresses: () => new Set(bindAddresses(config.interface) ?? hosts.addresses()),
        write,
        userAgent: serverHeader(VERSION),
        log: log.child({ module: 'dlna-upload' }),
      },
      { enabled: config.pin === null },
    );
    stops.push({ name: 'dlna uploads', stop: async () => uploads.close() });
    const contentDirectory = createContentDirectory({ catalog: library.catalog, log: log.child({ module: 'cds' }), artAvailable: artwork.available, resourcesFor, quirksFor: (req) => profileOf(req).quirks, uploads, playlists: library.playlists });
    stops.push({ name: 'content directory', stop: async () => contentDirectory.close() });
    const upnp = new MediaServer({ config, log: log.child({ module: 'upnp' }), services: [contentDirectory, connectionManager, registrar], version: VERSION, stateDir: library.stateDir, dlnaCaps: uploads.enabled ? UPLOAD_DLNA_CAPS : [] });
    let renderers: RendererDiscovery | null = null;
    // --- end UPnP ---
    const remote = createRemoteApi({ catalog: library.catalog, log: log.child({ module: 'events' }), renderers: () => renderers?.list() ?? [] });
    const web = await loadWebAssets(path.join(PACKAGE_ROOT, 'dist', 'web'), log.child({ module: 'web' }));
    const app = createApp({
      log: log.child({ module: 'http' }),
      hosts,
      routers: [createApiRouter({ library, write, name: config.name, version: VERSION, ffmpegAvailable: ffmpeg !== null }), upnp.router(), uploads.router(), createMediaRouter({ library, artwork, profileOf: (ctx) => profiles.forClient(clientAddress(ctx), { headers: ctx.headers }) }), createTranscodeRouter({ library, profiles, transcoder, cache: transcodeCache, log: log.child({ module: 'transcode' }) }), remote.router, createWebRouter(web)],
    });
    const binds = bindAddresses(config.interface);
    if (binds && binds.length === 0) throw new Error(`--interface ${config.interface}: no IPv4 address on that interface`);
    const http: HttpListening = await listen(app, config.port, binds, log.child({ module: 'http' }));
    stops.push({ name: 'http', stop: () => http.close() });
    // Stopped before HTTP closes: ends running ffmpegs, so their streams do not hold the server open.
    stops.push({ name: 'transcoder', stop: () => transcoder.stop() });
    // Event streams never end on their own: close them first so the HTTP server need not wait.
    stops.push({ name: 'live events', stop: async () => remote.close() });
    // After listen (SSDP announces the HTTP port); stopped before HTTP, so ssdp:byebye goes out first.
    await upnp.start();
    stops.push({ name: 'upnp', stop: () => upnp.stop() });
    // The MediaRenderers on --interface's LAN: their device descriptions feed profile matching.
    if (config.interface && upnp.ssdpChannel) {
      const discovery = new RendererDiscovery({ ssdp: upnp.ssdpChannel, profiles, ownAddresses: () => new Set(bindAddresses(config.interface) ?? []), userAgent: serverHeader(VERSION), log: log.child({ module: 'renderers' }) });
      discovery.start();
      renderers = discovery;
      stops.push({ name: 'renderer discovery', stop: () => discovery.stop() });
    }
    // Probing a name takes ~750 ms (RFC 6762): it runs while the daemon already serves. Stopped
    // before HTTP closes, so the goodbye packets go out while the port still answers.
    const mdnsStarted = mdns.start().then(
      () => true,
      (err: unknown) => {
        log.error({ err }, 'mDNS advertisement failed; the stereo is still reachable by address');
        return false;
      },
    );
    stops.push({ name: 'mdns', stop: async () => { if (await mdnsStarted) await mdns.stop(); } });

    // --- LocalSend (issue 6) ---
    // Phones' LocalSend apps list the stereo and send into the same ingest. Not fatal: without it
    // (port taken, no address) the stereo still plays and takes HTTP pushes.
    if (config.localsendPort !== 0) {
      const lsLog = log.child({ module: 'localsend' });
      try {
        const identity = await loadOrCreateIdentity(library.stateDir, lsLog);
        const sessions = new ReceiveSessions({
          idleMs: config.localsendSessionIdleS * 1000,
          onEnd: (s, reason) => lsLog.info({ sessionId: s.id, device: s.sender.device, reason }, 'LocalSend transfer ended'),
        });
        const lsApp = createLocalSendApp({ identity, alias: config.name, ingest: library.ingest, playlists: library.playlists, sessions, pin: config.pin, log: lsLog });
        const lsHttps = await listenLocalSend(lsApp, identity, config.localsendPort, binds, lsLog);
        stops.push({ name: 'localsend https', stop: () => lsHttps.close() });
        // Stopped before HTTPS closes: uploads still running are cut, so the server need not wait for them.
        sessions.start();
        stops.push({ name: 'localsend sessions', stop: async () => sessions.stop() });
        const discovery = new LocalSendDiscovery({ identity, alias: config.name, port: config.localsendPort, interface: config.interface, log: lsLog });
        stops.push({ name: 'localsend discovery', stop: () => discovery.stop() });
        await discovery.start().catch((err: unknown) => lsLog.error({ err }, 'LocalSend discovery not started; the apps find the stereo only by scanning the subnet'));
      } catch (err) {
        lsLog.error({ err }, 'LocalSend receiver not started; phones will not see the stereo in LocalSend');
      }
    }
    // --- end LocalSend ---

    const scanAbort = new AbortController();
    const scanning = library
      .startScanning(scanAbort.signal)
      // The catalogue document is rewritten after the scan: write it now, so its garbage is collected too.
      .then(() => library.store.writeSnapshot())
      .catch((err: unknown) => log.error({ err }, 'scan failed'))
      .then(() => releaseMemoryAfterStartup(http.quietForMs, scanAbort.signal, log))
      .then(() => releaseMemoryAfterBursts(http.quietForMs, scanAbort.signal, log, () => contentDirectory.releaseCaches()))
      .catch((err: unknown) => log.error({ err }, 'memory release stopped'));
    stops.push({ name: 'scanner', stop: async () => { scanAbort.abort(); await scanning; } });
    log.info({ name: config.name, port: config.port, dataDir: config.dataDir, version: VERSION }, 'hifid ready');
    return { stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function main(): Promise<number> {
  let config: Config;
  try {
    const r = loadConfig(process.argv.slice(2), process.env);
    if (r.help) {
      process.stdout.write(helpText());
      return 0;
    }
    config = r.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hifid: configuration errors:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n\n${helpText()}`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const abort = new AbortController();
  let running: Running | null = null;
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping');
    abort.abort(new Error(`stopped by ${sig}`));
    void (running?.stop() ?? Promise.resolve()).then(() => {
      log.info('stopped');
      process.exitCode = 0;
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    running = await start(config, log, abort.signal);
    if (stopping) await running.stop();
  } catch (err) {
    if (err instanceof AlreadyRunningError) {
      log.fatal(err.message);
      return 3;
    }
    if (abort.signal.aborted) return 0;
    log.fatal({ err }, 'cannot start');
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`hifid: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
