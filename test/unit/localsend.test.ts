// LocalSend leaves: DTO checks (untrusted JSON from phones), what counts as audio, receive sessions, the identity.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { IDENTITY_FILE, certFingerprint, loadOrCreateIdentity } from '../../daemon/push/localsend/identity.js';
import { DtoError, deviceName, fileKind, isTextMessage, parseAnnouncement, parsePrepareUpload, parseRegister, titleHint, type FileDto } from '../../daemon/push/localsend/dto.js';
import { MAX_UPLOAD_ATTEMPTS, ReceiveSessions, SessionError, type EndReason } from '../../daemon/push/localsend/sessions.js';

const FP = 'A'.repeat(64);
const device = { alias: 'Pixel', version: '2.1', deviceModel: 'Google', deviceType: 'mobile', fingerprint: FP, port: 53317, protocol: 'https', download: false };
const file = (id: string, over: Record<string, unknown> = {}) => ({ id, fileName: `${id}.mp3`, size: 1000, fileType: 'audio/mpeg', sha256: null, preview: null, ...over });

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DtoError, String(err));
    return [...err.problems];
  }
  assert.fail('expected a DtoError');
}

describe('LocalSend DTOs', () => {
  it('reads a 1.18 register body', () => {
    assert.deepEqual(parseRegister(device), { ...device, deviceType: 'mobile' });
  });

  it('requires alias, version, fingerprint, port and protocol on /register, and says which are wrong all at once', () => {
    assert.deepEqual(problems(() => parseRegister({ deviceType: 'mobile' })), ['alias: required', 'version: required', 'fingerprint: required', 'port: required', 'protocol: required']);
    assert.deepEqual(problems(() => parseRegister({ ...device, port: 70000, protocol: 'ftp', download: 'yes' })), ['port: expected an integer from 1 to 65535', 'protocol: expected "http" or "https"', 'download: expected true or false']);
    assert.deepEqual(problems(() => parseRegister([device])), ['expected a JSON object']);
    assert.deepEqual(problems(() => parseRegister({ ...device, fingerprint: 'has spaces in it' })), ['fingerprint: expected printable ASCII without spaces']);
  });

  it('keeps a device with an unknown deviceType (it only picks an icon), without the type', () => {
    assert.equal(parseRegister({ ...device, deviceType: 'toaster' }).deviceType, null);
    assert.equal(parseRegister({ ...device, deviceModel: null, deviceType: null }).deviceModel, null);
  });

  it('reads a prepare-upload, taking sha256 or 1.17\'s hash in lower case', () => {
    const h = 'AB'.repeat(32);
    const r = parsePrepareUpload({ info: { ...device, port: undefined, protocol: undefined }, files: { a: file('a', { sha256: h }), b: file('b', { hash: h }), c: file('c') } });
    assert.equal(r.info.port, null, 'port and protocol are optional here');
    assert.deepEqual(r.files.map((f) => f.sha256), [h.toLowerCase(), h.toLowerCase(), null]);
  });

  it('refuses malformed files with the key and field named', () => {
    const bad = problems(() =>
      parsePrepareUpload({
        info: device,
        files: { a: file('b'), c: file('c', { size: -1 }), d: file('d', { size: 1.5 }), e: file('e', { sha256: 'xyz' }), f: file('f', { fileName: 7 }), g: 'nope', h: file('h', { sha256: 'a'.repeat(64), hash: 'b'.repeat(64) }) },
      }),
    );
    assert.deepEqual(bad, [
      'files.a.id: "b" differs from its key',
      'files.c.size: expected a whole number of bytes',
      'files.d.size: expected a whole number of bytes',
      'files.e.sha256: expected 64 hex digits',
      'files.f.fileName: expected a string of at most 4096 characters',
      'files.g: expected an object',
      'files.h.hash: differs from the other checksum',
    ]);
    assert.deepEqual(problems(() => parsePrepareUpload({ info: device, files: {} })), ['files: empty']);
    assert.deepEqual(problems(() => parsePrepareUpload({ files: { a: file('a') } })), ['info: required']);
  });

  it('reads announcements (v2 `announce`, v1 `announcement`) and drops anything else', () => {
    const d = (o: unknown) => Buffer.from(JSON.stringify(o));
    assert.equal(parseAnnouncement(d({ ...device, announce: true }))?.announce, true);
    assert.equal(parseAnnouncement(d({ ...device, announcement: true }))?.announce, true);
    assert.equal(parseAnnouncement(d({ ...device, announce: false }))?.announce, false);
    assert.equal(parseAnnouncement(d({ ...device, port: undefined }))?.port, null);
    for (const junk of [Buffer.from('M-SEARCH * HTTP/1.1'), d([1]), d({ alias: 'x' }), Buffer.alloc(9000, 0x20), d({ ...device, port: 'x' })]) {
      assert.equal(parseAnnouncement(junk), null);
    }
  });

  const kinds: Array<[string, string, string]> = [
    ['song.flac', 'audio/flac', 'audio'],
    ['song.mp3', 'audio/mpeg; charset=binary', 'audio'],
    ['Album/song.opus', 'application/octet-stream', 'audio'],
    ['SONG.M4A', 'application/octet-stream', 'audio'],
    ['song.exe', 'application/octet-stream', 'other'],
    ['mix.m3u', 'audio/x-mpegurl', 'playlist'],
    ['mix.m3u8', 'application/vnd.apple.mpegurl', 'playlist'],
    ['radio.pls', 'audio/x-scpls', 'playlist'],
    ['list.xspf', 'application/octet-stream', 'playlist'],
    ['notes.txt', 'text/plain', 'text'],
    ['IMG_1.jpg', 'image/jpeg', 'other'],
    ['clip.mp4', 'video/mp4', 'other'],
  ];
  for (const [fileName, fileType, kind] of kinds) {
    it(`calls ${fileName} (${fileType}) ${kind}`, () => {
      assert.equal(fileKind({ fileName, fileType }), kind);
    });
  }

  it('knows a text message: one text file carrying its text', () => {
    const t = (over: Partial<FileDto>): FileDto => ({ id: 't', fileName: 'm.txt', size: 2, fileType: 'text/plain', sha256: null, preview: 'hi', ...over });
    assert.equal(isTextMessage([t({})]), true);
    assert.equal(isTextMessage([t({ preview: null })]), false);
    assert.equal(isTextMessage([t({}), t({ id: 'u' })]), false);
  });

  it('makes a title hint of the last segment only, never a path', () => {
    assert.equal(titleHint('Album/01 Song.flac'), '01 Song.flac');
    assert.equal(titleHint('..\\..\\evil.mp3'), 'evil.mp3');
    assert.equal(titleHint('a/b/..'), null);
    assert.equal(titleHint('dir/'), null);
    assert.equal(titleHint('x\u0000y\n.mp3'), 'xy.mp3');
  });

  it('makes a printable, short device name of an alias', () => {
    assert.equal(deviceName('  Pixel\u0007 8 '), 'Pixel 8');
    assert.equal(deviceName('\u0001'), 'LocalSend device');
    assert.equal(deviceName('x'.repeat(100)).length, 64);
  });
});

describe('LocalSend receive sessions', () => {
  let now = 0;
  let ended: EndReason[] = [];
  let sessions: ReceiveSessions;
  const sender = { ip: '10.77.0.3', device: 'Pixel', fingerprint: FP };
  const dto = (id: string): FileDto => ({ id, fileName: `${id}.mp3`, size: 10, fileType: 'audio/mpeg', sha256: null, preview: null });
  beforeEach(() => {
    now = 1_000_000;
    ended = [];
    sessions = new ReceiveSessions({ idleMs: 60_000, now: () => now, onEnd: (_s, r) => ended.push(r) });
  });

  const status = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof SessionError);
      return err.status;
    }
    return 'ok';
  };

  it('runs one session at a time and ends it when every file is in', () => {
    const s = sessions.open(sender, [dto('a'), dto('b')]);
    assert.equal(status(() => sessions.open({ ...sender, ip: '10.77.0.4' }, [dto('c')])), 409);
    for (const id of ['a', 'b']) sessions.begin({ sessionId: s.id, fileId: id, token: s.files.get(id)!.token, ip: sender.ip }).finish({ ok: true });
    assert.deepEqual(ended, ['finished']);
    assert.equal(sessions.active(), null);
  });

  it('gives each file its own token and takes it only from the sender, once', () => {
    const s = sessions.open(sender, [dto('a'), dto('b')]);
    const a = s.files.get('a')!.token;
    assert.notEqual(a, s.files.get('b')!.token);
    assert.equal(status(() => sessions.begin({ sessionId: s.id, fileId: 'b', token: a, ip: sender.ip })), 403);
    assert.equal(status(() => sessions.begin({ sessionId: s.id, fileId: 'a', token: a, ip: '10.77.0.4' })), 403);
    assert.equal(status(() => sessions.begin({ sessionId: 'x', fileId: 'a', token: a, ip: sender.ip })), 403);
    const up = sessions.begin({ sessionId: s.id, fileId: 'a', token: a, ip: sender.ip });
    assert.equal(status(() => sessions.begin({ sessionId: s.id, fileId: 'a', token: a, ip: sender.ip })), 409, 'already running');
    up.finish({ ok: true });
    assert.equal(status(() => sessions.begin({ sessionId: s.id, fileId: 'a', token: a, ip: sender.ip })), 409, 'already received');
  });

  it(`allows ${MAX_UPLOAD_ATTEMPTS} attempts at a file after retryable failures, one after a final one`, () => {
    const s = sessions.open(sender, [dto('a'), dto('b')]);
    const q = { sessionId: s.id, fileId: 'a', token: s.files.get('a')!.token, ip: sender.ip };
    for (let i = 0; i < MAX_UPLOAD_ATTEMPTS; i++) sessions.begin(q).finish({ ok: false, retryable: true });
    assert.equal(status(() => sessions.begin(q)), 403);
    const qb = { sessionId: s.id, fileId: 'b', token: s.files.get('b')!.token, ip: sender.ip };
    sessions.begin(qb).finish({ ok: false, retryable: false });
    assert.deepEqual(ended, ['finished'], 'nothing left to wait for');
  });

  it('expires after the idle time, aborting running uploads; bytes keep it alive', () => {
    const s = sessions.open(sender, [dto('a'), dto('b')]);
    const up = sessions.begin({ sessionId: s.id, fileId: 'a', token: s.files.get('a')!.token, ip: sender.ip });
    now += 50_000;
    up.touch();
    now += 50_000;
    sessions.sweep();
    assert.equal(up.signal.aborted, false);
    now += 10_001;
    sessions.sweep();
    assert.equal(up.signal.aborted, true);
    assert.match((up.signal.reason as Error).message, /idle/);
    assert.deepEqual(ended, ['expired']);
    up.finish({ ok: false, retryable: true });
    assert.equal(sessions.active(), null);
    assert.ok(sessions.open(sender, [dto('c')]));
  });

  it('is cancelled by its sender only; an unknown id is already over', () => {
    const s = sessions.open(sender, [dto('a')]);
    assert.equal(status(() => sessions.cancel(s.id, '10.77.0.4')), 403);
    assert.equal(sessions.cancel('other', sender.ip), false);
    assert.equal(sessions.cancel(null, sender.ip), true);
    assert.deepEqual(ended, ['cancelled']);
  });
});

describe('LocalSend identity', () => {
  // The certificate's options live in the child process's script, which tsc does not check.
  it('makes the certificate the official apps make, once, readable by its owner only, and loads it again', async function () {
    this.timeout(30_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'hifid-identity-'));
    try {
      const made = await loadOrCreateIdentity(dir, pino({ level: 'silent' }));
      const cert = new X509Certificate(made.cert);
      assert.equal(cert.subject, 'CN=LocalSend User');
      assert.equal(cert.subjectAltName, undefined, 'no SAN: phones pin the fingerprint');
      assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
      assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.equal(new Date(cert.validFrom).getUTCFullYear(), 1975, 'valid on a box whose clock is wrong');
      assert.equal(new Date(cert.validTo).getUTCFullYear(), 4096);
      assert.ok(cert.checkPrivateKey(createPrivateKey(made.key)));
      assert.equal(made.fingerprint, certFingerprint(cert.raw));
      assert.equal(statSync(path.join(dir, IDENTITY_FILE)).mode & 0o077, 0);
      assert.deepEqual(await loadOrCreateIdentity(dir, pino({ level: 'silent' })), made);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
