// Client profiles as data (profiles/*.json, then <data-dir>/profiles/*.json): load and validate
// them (every problem reported at once, naming file and key), match a request to one (first match
// in order, the generic DLNA profile otherwise; remembered per client address), and decide what a
// profile gets for a track: the original, a transcode, or both. Behaviour switches on named quirk
// flags, never on device names.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CodecId } from './media/formats.js';
import type { Track } from './library/track.js';
import { TARGET_IDS, asWav, isTargetId, outputOf, type TargetId } from './media/targets.js';

/**
 * Every quirk flag a profile may set, with what it changes and where. profiles/README.md documents
 * the same list for people writing profiles; a unit test keeps the two in step.
 */
export const QUIRKS = {
  lpcmAsWav: 'HTTP: LPCM targets are sent as WAV (RIFF header, little-endian) instead of raw audio/L16',
  estimateContentLength: 'HTTP: on-the-fly LPCM/WAV streams carry an exact Content-Length (and res@size) instead of chunked transfer',
  noTimeSeek: 'HTTP/DIDL: transcoded res advertise no time seek (DLNA.ORG_OP=00); for renderers that break on TimeSeekRange',
  noDlnaPn: 'DIDL/HTTP: never send DLNA.ORG_PN (some players refuse items whose PN they do not know)',
  alsoOfferTranscodes: 'DIDL: after an original without a DLNA profile (FLAC, Opus…), also list a transcoded res; for unknown renderers that take the first res their sink accepts',
  dlnaStrictXml: 'DIDL: strictly valid XML only: no control characters, no vendor namespaces or attributes',
  asciiXml: 'DIDL: every non-ASCII character written as a numeric character reference',
  albumArtJpegTn: 'DIDL: one upnp:albumArtURI, a JPEG_TN (≤160 px) with dlna:profileID="JPEG_TN"',
  forceSortByTrackNumber: 'ContentDirectory: album children in disc/track order whatever SortCriteria asks',
  samsungExtensions: 'ContentDirectory/DIDL: the sec: namespace and X_GetFeatureList that Samsung TVs look for',
} as const;

export type Quirk = keyof typeof QUIRKS;

export const DEVICE_FIELDS = ['friendlyName', 'manufacturer', 'modelName'] as const;
export type DeviceField = (typeof DEVICE_FIELDS)[number];
export type DeviceInfo = Partial<Record<DeviceField, string>>;

export type ProfileKind = 'renderer' | 'export';

/** One alternative way to recognise the client: a regular expression (case-insensitive) on one field. */
export interface MatchRule {
  /** A request header name (any case), e.g. 'User-Agent', 'X-AV-Client-Info'. */
  header?: string;
  /** Or a field of the client's UPnP device description. */
  device?: DeviceField;
  regex: string;
}

const CODECS: readonly CodecId[] = ['mp3', 'aac', 'alac', 'flac', 'vorbis', 'opus', 'pcm', 'wma', 'mp2'];

/** One kind of audio the client plays, with its limits. Absent limits mean "any". */
export interface PlayRule {
  /** formats.ts codec id, or '*' for everything. */
  codec: CodecId | '*';
  /** Only files of this MIME type ('audio/wav' but not 'audio/aiff'; 'audio/L16' for raw LPCM). */
  mime?: string;
  maxSampleRate?: number;
  maxBitsPerSample?: number;
  maxChannels?: number;
  /** bits per second */
  maxBitrate?: number;
  /** The MIME type to announce for such originals when the device wants another name (audio/x-flac). */
  sendMime?: string;
}

/** Headers (and description fields) really received from the device, and where they were recorded. */
export interface SeenClient {
  headers: Record<string, string>;
  device?: DeviceInfo;
  source: string;
}

export interface Profile {
  id: string;
  name: string;
  kind: ProfileKind;
  match: readonly MatchRule[];
  plays: readonly PlayRule[];
  /** In order of preference. */
  targets: readonly TargetId[];
  quirks: ReadonlySet<Quirk>;
  seen: readonly SeenClient[];
  sources: readonly string[];
  notes: string | null;
  /** The file it came from (shipped or user). */
  file: string;
}

/** What a request tells about its client. */
export interface ClientRequest {
  /** Request headers; node lower-cases the names, any case works here. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  device?: DeviceInfo | null;
}

// ---------------------------------------------------------------------------------------------
// Validation

const PROFILE_KEYS = ['id', 'name', 'kind', 'match', 'plays', 'targets', 'quirks', 'headers', 'sources', 'notes'] as const;
const PLAY_KEYS = ['codec', 'mime', 'maxSampleRate', 'maxBitsPerSample', 'maxChannels', 'maxBitrate', 'sendMime'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function near(word: string, candidates: readonly string[]): string {
  const w = word.toLowerCase();
  const hit = candidates.find((c) => c.toLowerCase() === w) ?? candidates.find((c) => c.toLowerCase().startsWith(w.slice(0, 4)));
  return hit ? ` (did you mean "${hit}"?)` : '';
}

function unknownKeys(o: Record<string, unknown>, allowed: readonly string[], at: string, errors: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) errors.push(`${at}${k}: unknown key${near(k, allowed)}`);
}

function compileRegex(src: string): RegExp | string {
  try {
    return new RegExp(src, 'i');
  } catch (err) {
    return (err as Error).message;
  }
}

function positiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Checks one parsed profile file. Returns the profile, or null with every problem found, each
 * naming its key (`plays[2].maxSampleRate: …`). `file` is only recorded, not read.
 */
export function validateProfile(raw: unknown, file: string): { profile: Profile | null; errors: string[] } {
  const errors: string[] = [];
  if (!isObject(raw)) return { profile: null, errors: ['expected a JSON object'] };
  unknownKeys(raw, PROFILE_KEYS, '', errors);

  const id = raw.id;
  if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(id)) errors.push('id: expected lower-case letters, digits and dashes');
  const name = raw.name;
  if (typeof name !== 'string' || name.trim() === '') errors.push('name: expected a non-empty string');
  const kind = raw.kind ?? 'renderer';
  if (kind !== 'renderer' && kind !== 'export') errors.push('kind: expected "renderer" or "export"');

  const match: MatchRule[] = [];
  if (raw.match !== undefined && !Array.isArray(raw.match)) errors.push('match: expected an array of rules');
  (Array.isArray(raw.match) ? raw.match : []).forEach((r: unknown, i) => {
    const at = `match[${i}]`;
    if (!isObject(r)) return errors.push(`${at}: expected an object`);
    unknownKeys(r, ['header', 'device', 'regex'], `${at}.`, errors);
    const hasHeader = r.header !== undefined;
    const hasDevice = r.device !== undefined;
    if (hasHeader === hasDevice) errors.push(`${at}: give exactly one of "header" or "device"`);
    if (hasHeader && (typeof r.header !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(r.header))) errors.push(`${at}.header: expected an HTTP header name`);
    if (hasDevice && !(DEVICE_FIELDS as readonly unknown[]).includes(r.device)) errors.push(`${at}.device: expected one of ${DEVICE_FIELDS.join(', ')}`);
    if (typeof r.regex !== 'string' || r.regex === '') errors.push(`${at}.regex: expected a non-empty regular expression`);
    else {
      const re = compileRegex(r.regex);
      if (typeof re === 'string') errors.push(`${at}.regex: invalid regular expression: ${re}`);
    }
    match.push({ ...(hasHeader ? { header: String(r.header) } : { device: r.device as DeviceField }), regex: String(r.regex) });
  });

  const plays: PlayRule[] = [];
  if (!Array.isArray(raw.plays) || raw.plays.length === 0) errors.push('plays: expected a non-empty array');
  (Array.isArray(raw.plays) ? raw.plays : []).forEach((p: unknown, i) => {
    const at = `plays[${i}]`;
    if (!isObject(p)) return errors.push(`${at}: expected an object`);
    unknownKeys(p, PLAY_KEYS, `${at}.`, errors);
    if (p.codec !== '*' && !(CODECS as readonly unknown[]).includes(p.codec)) errors.push(`${at}.codec: expected "*" or one of ${CODECS.join(', ')}${typeof p.codec === 'string' ? near(p.codec, CODECS) : ''}`);
    for (const k of ['mime', 'sendMime'] as const) {
      if (p[k] !== undefined && (typeof p[k] !== 'string' || !/^[a-z]+\/[A-Za-z0-9.+-]+$/.test(p[k] as string))) errors.push(`${at}.${k}: expected a MIME type without parameters`);
    }
    for (const k of ['maxSampleRate', 'maxBitsPerSample', 'maxChannels', 'maxBitrate'] as const) {
      if (p[k] !== undefined && !positiveInt(p[k])) errors.push(`${at}.${k}: expected a positive integer`);
    }
    plays.push(p as unknown as PlayRule);
  });

  const targets: TargetId[] = [];
  if (!Array.isArray(raw.targets)) errors.push('targets: expected an array (may be empty)');
  (Array.isArray(raw.targets) ? raw.targets : []).forEach((t: unknown, i) => {
    if (typeof t !== 'string' || !isTargetId(t)) errors.push(`targets[${i}]: unknown target ${JSON.stringify(t)}; known: ${TARGET_IDS.join(', ')}`);
    else targets.push(t);
  });

  const quirks = new Set<Quirk>();
  if (raw.quirks !== undefined && !Array.isArray(raw.quirks)) errors.push('quirks: expected an array of quirk names');
  (Array.isArray(raw.quirks) ? raw.quirks : []).forEach((q: unknown, i) => {
    if (typeof q !== 'string' || !(q in QUIRKS)) errors.push(`quirks[${i}]: unknown quirk ${JSON.stringify(q)}${typeof q === 'string' ? near(q, Object.keys(QUIRKS)) : ''}; see profiles/README.md`);
    else quirks.add(q as Quirk);
  });

  const seen: SeenClient[] = [];
  if (raw.headers !== undefined) {
    if (!isObject(raw.headers)) errors.push('headers: expected an object with "seen"');
    else {
      unknownKeys(raw.headers, ['seen'], 'headers.', errors);
      const list = raw.headers.seen;
      if (!Array.isArray(list)) errors.push('headers.seen: expected an array');
      (Array.isArray(list) ? list : []).forEach((s: unknown, i) => {
        const at = `headers.seen[${i}]`;
        if (!isObject(s)) return errors.push(`${at}: expected an object`);
        unknownKeys(s, ['headers', 'device', 'source'], `${at}.`, errors);
        if (!isObject(s.headers) || !Object.values(s.headers).every((v) => typeof v === 'string')) errors.push(`${at}.headers: expected an object of header strings`);
        if (s.device !== undefined && (!isObject(s.device) || !Object.entries(s.device).every(([k, v]) => (DEVICE_FIELDS as readonly string[]).includes(k) && typeof v === 'string'))) errors.push(`${at}.device: expected ${DEVICE_FIELDS.join('/')} strings`);
        if (typeof s.source !== 'string' || s.source === '') errors.push(`${at}.source: say where this was recorded`);
        seen.push(s as unknown as SeenClient);
      });
    }
  }

  const sources: string[] = [];
  if (raw.sources !== undefined && (!Array.isArray(raw.sources) || !raw.sources.every((s) => typeof s === 'string'))) errors.push('sources: expected an array of strings');
  else if (Array.isArray(raw.sources)) sources.push(...(raw.sources as string[]));
  if (raw.notes !== undefined && typeof raw.notes !== 'string') errors.push('notes: expected a string');

  if (kind === 'export' && match.length > 0) errors.push('match: export profiles are chosen by id, not matched to requests');

  if (errors.length) return { profile: null, errors };
  return {
    profile: {
      id: id as string,
      name: (name as string).trim(),
      kind: kind as ProfileKind,
      match,
      plays,
      targets,
      quirks,
      seen,
      sources,
      notes: (raw.notes as string | undefined) ?? null,
      file,
    },
    errors: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Loading

export interface ProfileFileError {
  file: string;
  /** A user profile (skipped) or a shipped one (a bug: the tests fail on it). */
  user: boolean;
  problems: string[];
}

/** Reads and validates every *.json in `dir` in file-name order; a missing folder has none. */
export async function loadProfileDir(dir: string, user: boolean): Promise<{ profiles: Profile[]; errors: ProfileFileError[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: [], errors: [] };
    return { profiles: [], errors: [{ file: dir, user, problems: [(err as Error).message] }] };
  }
  const profiles: Profile[] = [];
  const errors: ProfileFileError[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      errors.push({ file, user, problems: [`not valid JSON: ${(err as Error).message}`] });
      continue;
    }
    const r = validateProfile(raw, file);
    if (r.profile) profiles.push(r.profile);
    else errors.push({ file, user, problems: r.errors });
  }
  return { profiles, errors };
}

/** Used when the shipped generic profile is missing or broken: originals only, to anyone. */
const FALLBACK_GENERIC: Profile = {
  id: 'generic',
  name: 'Generic DLNA renderer',
  kind: 'renderer',
  match: [],
  plays: [{ codec: '*' }],
  targets: [],
  quirks: new Set(),
  seen: [],
  sources: [],
  notes: 'built-in fallback',
  file: '(built in)',
};

export const GENERIC_ID = 'generic';

/** Loads shipped then user profiles into one ordered set; problems are returned, never thrown. */
export async function loadProfiles(dirs: { shipped: string; user: string | null }): Promise<{ profiles: ProfileSet; errors: ProfileFileError[] }> {
  const shipped = await loadProfileDir(dirs.shipped, false);
  const user = dirs.user ? await loadProfileDir(dirs.user, true) : { profiles: [], errors: [] };
  return { profiles: new ProfileSet(shipped.profiles, user.profiles), errors: [...shipped.errors, ...user.errors] };
}

// ---------------------------------------------------------------------------------------------
// Matching

function headerValue(headers: ClientRequest['headers'], name: string): string | null {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== want || v === undefined) continue;
    return typeof v === 'string' ? v : v.join(', ');
  }
  return null;
}

interface CompiledProfile {
  profile: Profile;
  rules: Array<{ header: string | null; device: DeviceField | null; re: RegExp }>;
}

function compile(p: Profile): CompiledProfile {
  return { profile: p, rules: p.match.map((r) => ({ header: r.header ?? null, device: r.device ?? null, re: new RegExp(r.regex, 'i') })) };
}

function matches(c: CompiledProfile, req: ClientRequest): boolean {
  return c.rules.some((r) => {
    const value = r.header ? headerValue(req.headers, r.header) : req.device?.[r.device!] ?? null;
    return value !== null && r.re.test(value);
  });
}

/** First profile in `profiles` whose rules match the request, else `fallback`. Pure. */
export function matchProfile(profiles: readonly Profile[], req: ClientRequest, fallback: Profile): Profile {
  for (const p of profiles) {
    if (p.kind === 'renderer' && p.match.length > 0 && matches(compile(p), req)) return p;
  }
  return fallback;
}

const CLIENT_CACHE_MAX = 256;
const CLIENT_CACHE_TTL_MS = 60 * 60 * 1000;

/**
 * The profiles in match order: user profiles with new ids first (a user writes one for a device the
 * shipped ones get wrong), then the shipped ones, each replaced in place by a later file or a user
 * profile with the same id.
 */
export class ProfileSet {
  readonly all: readonly Profile[];
  readonly generic: Profile;
  private readonly compiled: CompiledProfile[];
  private readonly byId = new Map<string, Profile>();
  /** Per client address: the last specific profile it was recognised as. */
  private readonly clients = new Map<string, { profile: Profile; at: number }>();

  constructor(shipped: readonly Profile[], user: readonly Profile[] = []) {
    const list: Profile[] = [];
    const place = (p: Profile, front: boolean) => {
      const i = list.findIndex((x) => x.id === p.id);
      if (i >= 0) list[i] = p;
      else if (front) list.unshift(p);
      else list.push(p);
    };
    for (const p of shipped) place(p, false);
    // Reverse, so that user files keep their own order at the front.
    for (const p of [...user].reverse()) place(p, !list.some((x) => x.id === p.id));
    this.all = list;
    for (const p of list) this.byId.set(p.id, p);
    this.generic = this.byId.get(GENERIC_ID) ?? FALLBACK_GENERIC;
    this.compiled = list.filter((p) => p.kind === 'renderer' && p.match.length > 0).map(compile);
  }

  get(id: string): Profile | undefined {
    return this.byId.get(id);
  }

  /** The first renderer profile whose rules match, or the generic one. Pure: no cache. */
  match(req: ClientRequest): Profile {
    for (const c of this.compiled) if (matches(c, req)) return c.profile;
    return this.generic;
  }

  /**
   * The profile for a request from `address`. Renderers use different User-Agents for SOAP and for
   * media GETs (a Samsung TV browses as `SEC_HHP_…` and fetches as `samsung-agent/1.1`), so a
   * specific match is remembered for the address, and a request matching nothing gets what the
   * address was last recognised as (for an hour, at most 256 addresses).
   */
  forClient(address: string, req: ClientRequest): Profile {
    const found = this.match(req);
    const now = Date.now();
    if (found !== this.generic) {
      this.remember(address, found, now);
      return found;
    }
    const c = this.clients.get(address);
    if (c && now - c.at < CLIENT_CACHE_TTL_MS) return c.profile;
    if (c) this.clients.delete(address);
    return this.generic;
  }

  /** A client's device description was read (it is also a UPnP device): remember what it is. */
  rememberDevice(address: string, device: DeviceInfo): Profile {
    const found = this.match({ headers: {}, device });
    if (found !== this.generic) this.remember(address, found, Date.now());
    return found;
  }

  private remember(address: string, profile: Profile, now: number): void {
    this.clients.delete(address); // re-insert: Map order is our least-recently-seen order
    this.clients.set(address, { profile, at: now });
    while (this.clients.size > CLIENT_CACHE_MAX) this.clients.delete(this.clients.keys().next().value!);
  }
}

// ---------------------------------------------------------------------------------------------
// Deciding

/** The audio facts decide() looks at (a catalogue Track has them all). */
export type TrackAudio = Pick<Track, 'codec' | 'mime' | 'sampleRate' | 'bitsPerSample' | 'channels' | 'bitrate'>;

export interface Decision {
  /** The profile plays the file as it is. */
  original: boolean;
  /** MIME type to announce for the original (the profile's sendMime, else the file's). */
  originalMime: string;
  /** The transcode to offer (instead of or after the original), or null. */
  target: TargetId | null;
}

const LOSSY: ReadonlySet<string> = new Set(['mp3', 'mp2', 'aac', 'vorbis', 'opus', 'wma']);
const LOSSLESS_OUT: ReadonlySet<string> = new Set(['flac', 'pcm', 'alac']);

function baseMime(m: string): string {
  return (m.split(';')[0] ?? '').trim().toLowerCase();
}

function ruleFor(rules: readonly PlayRule[], a: TrackAudio, checkLimits: boolean): PlayRule | null {
  for (const r of rules) {
    if (r.codec !== '*' && r.codec !== a.codec) continue;
    if (r.mime && baseMime(r.mime) !== baseMime(a.mime)) continue;
    if (!checkLimits) return r;
    // An unknown value (null) passes: we cannot hold against a file what we do not know about it.
    if (r.maxSampleRate && a.sampleRate !== null && a.sampleRate > r.maxSampleRate) continue;
    if (r.maxBitsPerSample && a.bitsPerSample !== null && a.bitsPerSample > r.maxBitsPerSample) continue;
    if (r.maxChannels && a.channels !== null && a.channels > r.maxChannels) continue;
    if (r.maxBitrate && a.bitrate !== null && a.bitrate > r.maxBitrate) continue;
    return r;
  }
  return null;
}

/** DLNA media profiles exist for MP3, AAC (in MP4), WMA and LPCM only; everything else has none. */
function hasDlnaProfile(a: TrackAudio): boolean {
  return a.codec === 'mp3' || a.codec === 'aac' || a.codec === 'wma' || baseMime(a.mime) === 'audio/l16';
}

/** The profile's targets in order, with LPCM turned into WAV where the profile asks for that. */
export function targetsOf(profile: Profile): TargetId[] {
  return profile.targets.map((t) => (profile.quirks.has('lpcmAsWav') ? asWav(t) : t));
}

/**
 * What `profile` gets for a track. The original when a play rule takes it within its limits. A
 * transcode when it does not (or, with alsoOfferTranscodes, after an original that has no DLNA
 * profile): the first target whose output the profile plays. A target whose codec the profile has
 * rules for must fit them (FLAC 24/96 is skipped for a FLAC ≤ 16/48 device); a codec the profile
 * lists no rule for is trusted, since the author chose it as a target.
 */
export function decide(track: TrackAudio, profile: Profile): Decision {
  const rule = ruleFor(profile.plays, track, true);
  const originalMime = rule?.sendMime ?? track.mime;
  if (rule && !(profile.quirks.has('alsoOfferTranscodes') && !hasDlnaProfile(track))) return { original: true, originalMime, target: null };
  let targets = targetsOf(profile);
  // A download is kept: a lossless copy of a lossy decode would only take room on the player.
  // (A stream is not kept, and a receiver may prefer FLAC or LPCM whatever the source.)
  if (profile.kind === 'export' && LOSSY.has(track.codec)) targets = [...targets.filter((t) => !LOSSLESS_OUT.has(outputOf(t, track).codec)), ...targets.filter((t) => LOSSLESS_OUT.has(outputOf(t, track).codec))];
  for (const t of targets) {
    const out = outputOf(t, track);
    const audio: TrackAudio = { codec: out.codec, mime: out.mime, sampleRate: out.sampleRate, bitsPerSample: out.bitsPerSample, channels: out.channels, bitrate: out.bitrate };
    const listed = ruleFor(profile.plays, audio, false);
    if (listed && !ruleFor(profile.plays, audio, true)) continue;
    return { original: rule !== null, originalMime, target: t };
  }
  return { original: rule !== null, originalMime, target: null };
}
