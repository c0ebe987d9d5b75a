// The LocalSend receiver against a LocalSend peer written from the protocol, running as its own host
// (10.77.0.3, .4) on the test LAN: discovery both ways, mutual TLS, transfers into ingest, refusals.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, fixturePath, makeWav } from '../helpers/fixtures.js';
import { filesUnder, getJson, type TrackJson } from '../helpers/api.js';
import { LocalSendPeer, type RequestResult, type UploadFile } from '../helpers/localsend.js';
import { testLan } from '../helpers/lan.js';
import { eventually } from '../helpers/wait.js';

const LOCALSEND = ['--localsend-port', '53317'];
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const json = <T>(r: RequestResult): T => JSON.parse(r.body) as T;

function audioFile(id: string, name: string, fileType: string, opts: { fileName?: string; size?: number; sha256?: string | null } = {}): UploadFile {
  const bytes = fixture(name);
  return { id, fileName: opts.fileName ?? name, size: opts.size ?? bytes.length, fileType, sha256: opts.sha256 === undefined ? sha256(bytes) : opts.sha256, preview: null };
}

async function tracks(d: TestDaemon): Promise<TrackJson[]> {
  return ((await getJson(`${d.url}/api/v1/tracks?limit=500`)).body as { items: TrackJson[] }).items;
}

function incoming(d: TestDaemon): string[] {
  return filesUnder(path.join(d.dataDir, 'incoming'));
}

describe('LocalSend receiver', function () {
  this.timeout(60_000);
  const lan = testLan();
  const url = `https://${lan.stereo}:53317`;

  describe('discovery', () => {
    let phone: LocalSendPeer;
    let d: TestDaemon;
    let stereoFingerprint: string;
    before(async () => {
      // The phone listens first, so the stereo's start-up announcements reach it.
      phone = await LocalSendPeer.start('10.77.0.3', 'Pixel 8');
      d = await TestDaemon.start({ args: LOCALSEND });
      const info = await phone.request({ url, method: 'GET', path: '/api/localsend/v2/info' });
      stereoFingerprint = json<{ fingerprint: string }>(info).fingerprint;
      assert.equal(info.serverFingerprint, stereoFingerprint, 'the fingerprint is the SHA-256 of the certificate served');
    });
    after(async () => {
      await d?.dispose();
      await phone?.stop();
    });

    it('announces itself at start with three datagrams, at about +100 ms, +500 ms and +2 s', async () => {
      const ours = await eventually(async () => {
        const got = (await phone.datagrams()).filter((g) => g.from === lan.stereo && g.json.announce === true);
        return got.length >= 3 && got;
      });
      assert.equal(ours.length, 3);
      assert.deepEqual(ours[0]!.json, { alias: 'Living-room Hi-Fi', version: '2.1', deviceModel: 'hifid', deviceType: 'headless', fingerprint: stereoFingerprint, port: 53317, protocol: 'https', download: false, announce: true, announcement: true });
      assert.match(stereoFingerprint, /^[0-9A-F]{64}$/);
      const spread = ours[2]!.at - ours[0]!.at;
      assert.ok(spread >= 1500 && spread <= 3000, `first to last ${spread} ms`);
    });

    it("answers a phone's announcement with POST /register over mutual TLS, pinning the phone's certificate", async () => {
      await phone.announce();
      const [reg] = await eventually(async () => {
        const r = await phone.registrations();
        return r.length > 0 && r;
      });
      assert.equal(reg!.from, lan.stereo);
      assert.equal(reg!.clientFingerprint, stereoFingerprint, 'the stereo presents its own certificate as client certificate');
      assert.deepEqual(reg!.body, { alias: 'Living-room Hi-Fi', version: '2.1', deviceModel: 'hifid', deviceType: 'headless', fingerprint: stereoFingerprint, download: false, port: 53317, protocol: 'https' });
    });

    it('answers by multicast (announce:false) when the server at the announced address is not the announced one', async () => {
      const before = (await phone.registrations()).length;
      await phone.announce({ fingerprint: 'AB'.repeat(32) });
      await eventually(async () => (await phone.datagrams()).some((g) => g.from === lan.stereo && g.json.announce === false));
      await d.waitForLog('LocalSend: register failed; answering by multicast', 5000, (e) => /not the one announced/.test(String(e.reason)));
      assert.equal((await phone.registrations()).length, before, 'no register call reached a server with another certificate');
    });

    it('answers by multicast when nothing listens at the announced port', async () => {
      const count = async () => (await phone.datagrams()).filter((g) => g.from === lan.stereo && g.json.announce === false).length;
      const before = await count();
      await phone.announce({ port: 9 });
      await eventually(async () => (await count()) > before);
    });

    it('does not answer an announcement from outside its subnet', async () => {
      const seen = async () => ({ regs: (await phone.registrations()).length, answers: (await phone.datagrams()).filter((g) => g.from === lan.stereo && g.json.announce === false).length });
      const before = await seen();
      await phone.call('announceFrom', { source: '10.77.1.5' });
      await d.waitForLog('LocalSend announcement from outside our subnet ignored', 5000, (e) => e.from === '10.77.1.5');
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await seen(), before);
    });

    it('keeps its certificate across restarts, readable by the daemon only', async () => {
      const file = path.join(d.dataDir, 'state', 'localsend-identity.pem');
      assert.equal(statSync(file).mode & 0o077, 0);
      await d.stop();
      const again = await TestDaemon.start({ dataDir: d.dataDir, args: LOCALSEND });
      try {
        const info = await phone.request({ url, method: 'GET', path: '/api/localsend/v2/info' });
        assert.equal(info.status, 200);
        assert.equal(info.serverFingerprint, stereoFingerprint);
      } finally {
        await again.dispose();
      }
    });
  });
  describe('transfers', () => {
    let phone: LocalSendPeer;
    let other: LocalSendPeer;
    let d: TestDaemon;
    const IDLE_S = 3;
    before(async () => {
      [phone, other] = await Promise.all([LocalSendPeer.start('10.77.0.3', 'Pixel 8'), LocalSendPeer.start('10.77.0.4', 'Other Phone')]);
      d = await TestDaemon.start({ args: [...LOCALSEND, '--localsend-session-idle-s', String(IDLE_S)] });
    });
    after(async () => {
      await d?.dispose();
      await Promise.all([phone?.stop(), other?.stop()]);
    });

    /** Prepares one transfer and returns its session id and tokens (asserting 200). */
    async function prepare(peer: LocalSendPeer, files: UploadFile[]): Promise<{ sessionId: string; files: Record<string, string> }> {
      const r = await peer.prepareUpload(url, files);
      assert.equal(r.status, 200, r.body);
      return json(r);
    }

    async function cancel(peer: LocalSendPeer, sessionId: string): Promise<void> {
      const r = await peer.request({ url, path: `/api/localsend/v2/cancel?sessionId=${sessionId}` });
      assert.equal(r.status, 200, r.body);
    }

    it('serves /info under v2 and v1 with its certificate fingerprint', async () => {
      for (const p of ['/api/localsend/v2/info', '/api/localsend/v1/info']) {
        const r = await phone.request({ url, method: 'GET', path: p });
        assert.equal(r.status, 200);
        const info = json<Record<string, unknown>>(r);
        assert.deepEqual(info, { alias: 'Living-room Hi-Fi', version: '2.1', deviceModel: 'hifid', deviceType: 'headless', fingerprint: r.serverFingerprint, download: false });
      }
      const self = await phone.request({ url, method: 'GET', path: `/api/localsend/v1/info?fingerprint=${json<{ fingerprint: string }>(await phone.request({ url, method: 'GET', path: '/api/localsend/v2/info' })).fingerprint}` });
      assert.equal(self.status, 412, 'a probe carrying our own fingerprint is ourselves');
    });

    it('answers /register with its info; refuses a fingerprint that is not the client certificate', async () => {
      const ok = await phone.request({ url, path: '/api/localsend/v2/register', json: phone.device() });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(json<{ fingerprint: string }>(ok).fingerprint, ok.serverFingerprint);
      const forged = await phone.request({ url, path: '/api/localsend/v2/register', json: phone.device({ fingerprint: other.fingerprint }) });
      assert.equal(forged.status, 403);
      assert.match(json<{ message: string }>(forged).message, /client certificate/);
      // Without a client certificate there is nothing to compare (1.17 servers ask for none).
      const noCert = await phone.request({ url, path: '/api/localsend/v2/register', json: phone.device(), clientCert: false });
      assert.equal(noCert.status, 200);
      const bad = await phone.request({ url, path: '/api/localsend/v2/register', json: phone.device({ port: undefined, protocol: 'gopher' }) });
      assert.equal(bad.status, 400);
      assert.match(json<{ message: string }>(bad).message, /port: required.*protocol/);
    });

    it('takes a chunked upload of a real song into the library, named after its alias, with its tags', async () => {
      const bytes = fixture('tone.flac');
      const files = [audioFile('song', 'tone.flac', 'audio/flac', { fileName: 'Album/04 Tone.flac' }), { id: 'note', fileName: 'notes.txt', size: 5, fileType: 'text/plain', preview: null }, { id: 'pic', fileName: 'cover.jpg', size: 100, fileType: 'image/jpeg', preview: null }];
      const s = await prepare(phone, files);
      assert.deepEqual(Object.keys(s.files), ['song'], 'tokens only for audio (and playlists: playlists.test.ts)');
      const r = await phone.upload(url, { sessionId: s.sessionId, fileId: 'song', token: s.files.song! }, { file: fixturePath('tone.flac') }, { chunked: true });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, '');
      const t = (await tracks(d)).find((x) => x.sha256 === sha256(bytes));
      assert.ok(t, 'the song is in the catalogue');
      assert.equal(t.source.kind, 'push');
      assert.equal(t.source.device, 'Pixel 8');
      assert.equal(t.title, 'Tone 4');
      assert.equal(t.artist, 'Test Artist');
      assert.equal(t.album, 'Test Album');
      const streamed = Buffer.from(await (await fetch(`${d.url}/api/v1/tracks/${t.id}/stream`)).arrayBuffer());
      assert.ok(streamed.equals(bytes), 'streams back the very bytes sent');
      const devices = (await getJson(`${d.url}/api/v1/devices`)).body as { items: Array<{ name: string }> };
      assert.ok(devices.items.some((x) => x.name === 'Pixel 8'), 'Pushed From lists the phone');
      // Its only file arrived, so the session is over: another phone may send now.
      const next = await prepare(other, [audioFile('x', 'tone.mp3', 'audio/mpeg')]);
      await cancel(other, next.sessionId);
    });

    it('takes a sized upload (Content-Length) and an audio file the sender could only call octet-stream', async () => {
      const s = await prepare(phone, [audioFile('a', 'tone.ogg', 'audio/ogg'), audioFile('b', 'tone.opus', 'application/octet-stream')]);
      assert.deepEqual(Object.keys(s.files).sort(), ['a', 'b']);
      for (const [id, name] of [['a', 'tone.ogg'], ['b', 'tone.opus']] as const) {
        const r = await phone.upload(url, { sessionId: s.sessionId, fileId: id, token: s.files[id]! }, { file: fixturePath(name) });
        assert.equal(r.status, 200, r.body);
      }
      const all = await tracks(d);
      for (const name of ['tone.ogg', 'tone.opus']) assert.ok(all.some((t) => t.sha256 === sha256(fixture(name)) && t.source.device === 'Pixel 8'), name);
    });

    it("never lets a sender's file name become a path: it is only a title hint", async () => {
      const bytes = fixture('untagged.mp3');
      const s = await prepare(phone, [audioFile('u', 'untagged.mp3', 'audio/mpeg', { fileName: '../../evil/../../../tmp/My_Song.mp3' })]);
      const r = await phone.upload(url, { sessionId: s.sessionId, fileId: 'u', token: s.files.u! }, { file: fixturePath('untagged.mp3') });
      assert.equal(r.status, 200, r.body);
      const t = (await tracks(d)).find((x) => x.sha256 === sha256(bytes))!;
      assert.equal(t.title, 'My Song');
      assert.equal(t.path, 'Unknown Artist/Unknown Album/My Song.mp3');
      assert.ok(!existsSync(path.join(d.dataDir, '..', 'evil')) && !existsSync('/tmp/My_Song.mp3'));
      assert.ok(readFileSync(path.join(d.dataDir, 'music', t.path)).equals(bytes));
    });

    it('answers 204 to a text message and to a transfer with nothing it takes', async () => {
      const text = await phone.prepareUpload(url, [{ id: 't', fileName: 'message.txt', size: 11, fileType: 'text/plain', preview: 'hello there' }]);
      assert.equal(text.status, 204);
      const none = await phone.prepareUpload(url, [{ id: 'p', fileName: 'IMG_0001.jpg', size: 1000, fileType: 'image/jpeg', preview: null }, { id: 'd', fileName: 'doc.pdf', size: 10, fileType: 'application/pdf', preview: null }]);
      assert.equal(none.status, 204);
      const bad = await phone.prepareUpload(url, [{ id: 'x', fileName: 'a.mp3', size: -1, fileType: 'audio/mpeg' }]);
      assert.equal(bad.status, 400);
      assert.match(json<{ message: string }>(bad).message, /files\.x\.size/);
    });

    it('refuses a prepare-upload whose fingerprint is not its client certificate (403)', async () => {
      const r = await phone.prepareUpload(url, [audioFile('a', 'tone.mp3', 'audio/mpeg')], { info: phone.device({ fingerprint: other.fingerprint }) });
      assert.equal(r.status, 403);
    });

    it('refuses wrong tokens, sessions and files with 403, missing ones with 400, and uploads from another address with 403', async () => {
      const bytes = fixture('tone.m4a');
      const s = await prepare(phone, [audioFile('m', 'tone.m4a', 'audio/mp4')]);
      const body = { file: fixturePath('tone.m4a') };
      const before = (await tracks(d)).length;
      for (const q of [
        { sessionId: s.sessionId, fileId: 'm', token: 'not-the-token' },
        { sessionId: 'another-session', fileId: 'm', token: s.files.m! },
        { sessionId: s.sessionId, fileId: 'other', token: s.files.m! },
      ]) {
        const r = await phone.upload(url, q, body);
        assert.equal(r.status, 403, JSON.stringify(q));
        assert.ok(json<{ message: string }>(r).message);
      }
      const missing = await phone.request({ url, path: `/api/localsend/v2/upload?sessionId=${s.sessionId}&fileId=m`, file: body.file });
      assert.equal(missing.status, 400);
      const stolen = await other.upload(url, { sessionId: s.sessionId, fileId: 'm', token: s.files.m! }, body);
      assert.equal(stolen.status, 403, 'a token is good only from the address that asked for it');
      assert.equal((await tracks(d)).length, before);
      const ok = await phone.upload(url, { sessionId: s.sessionId, fileId: 'm', token: s.files.m! }, body);
      assert.equal(ok.status, 200, ok.body);
      assert.ok((await tracks(d)).some((t) => t.sha256 === sha256(bytes)));
    });

    it('answers 409 to a second transfer while one is running, and takes it once the first is cancelled', async () => {
      const s = await prepare(phone, [audioFile('w', 'tone.wav', 'audio/wav')]);
      const busy = await other.prepareUpload(url, [audioFile('a', 'tone.aiff', 'audio/aiff')]);
      assert.equal(busy.status, 409);
      assert.ok(json<{ message: string }>(busy).message);
      const meToo = await phone.prepareUpload(url, [audioFile('a', 'tone.aiff', 'audio/aiff')]);
      assert.equal(meToo.status, 409);
      const notYours = await other.request({ url, path: `/api/localsend/v2/cancel?sessionId=${s.sessionId}` });
      assert.equal(notYours.status, 403, 'only the sender cancels');
      await cancel(phone, s.sessionId);
      const after = await phone.upload(url, { sessionId: s.sessionId, fileId: 'w', token: s.files.w! }, { file: fixturePath('tone.wav') });
      assert.equal(after.status, 403, 'a cancelled session takes nothing');
      const s2 = await prepare(other, [audioFile('a', 'tone.aiff', 'audio/aiff')]);
      await cancel(other, s2.sessionId);
      assert.deepEqual(incoming(d), []);
    });

    it('checks the size: a Content-Length or a body that is not the announced size gets 400 and stores nothing', async () => {
      const bytes = fixture('tone-v23.mp3');
      const before = (await tracks(d)).length;
      const s = await prepare(phone, [audioFile('s', 'tone-v23.mp3', 'audio/mpeg', { size: bytes.length + 100, sha256: null })]);
      const q = { sessionId: s.sessionId, fileId: 's', token: s.files.s! };
      const sized = await phone.upload(url, q, { file: fixturePath('tone-v23.mp3') });
      assert.equal(sized.status, 400);
      assert.match(json<{ message: string }>(sized).message, /Content-Length/);
      const chunked = await phone.upload(url, q, { file: fixturePath('tone-v23.mp3') }, { chunked: true });
      assert.equal(chunked.status, 400);
      assert.match(json<{ message: string }>(chunked).message, /announced/);
      await cancel(phone, s.sessionId);
      const s2 = await prepare(other, [audioFile('s', 'tone-v23.mp3', 'audio/mpeg', { size: 1000, sha256: null })]);
      const tooMuch = await other.upload(url, { sessionId: s2.sessionId, fileId: 's', token: s2.files.s! }, { file: fixturePath('tone-v23.mp3') }, { chunked: true });
      assert.equal(tooMuch.status, 400);
      assert.match(json<{ message: string }>(tooMuch).message, /more bytes than the 1000 announced/);
      await cancel(other, s2.sessionId);
      assert.equal((await tracks(d)).length, before);
      assert.deepEqual(incoming(d), []);
    });

    it('checks sha256 (and 1.17\'s hash): 422 on a mismatch, stores nothing, and lets the token be tried 3 times', async () => {
      const bytes = fixture('tone-v1.mp3');
      const before = (await tracks(d)).length;
      const s = await prepare(phone, [{ ...audioFile('h', 'tone-v1.mp3', 'audio/mpeg', { sha256: null }), hash: 'ab'.repeat(32) }]);
      const q = { sessionId: s.sessionId, fileId: 'h', token: s.files.h! };
      for (let i = 0; i < 3; i++) {
        const r = await phone.upload(url, q, { file: fixturePath('tone-v1.mp3') }, { chunked: true });
        assert.equal(r.status, 422, `attempt ${i + 1}: ${r.body}`);
      }
      // Every attempt failed: the file is given up and with it the session.
      const fourth = await phone.upload(url, q, { file: fixturePath('tone-v1.mp3') });
      assert.equal(fourth.status, 403);
      assert.equal((await tracks(d)).length, before);
      assert.ok(!(await tracks(d)).some((t) => t.sha256 === sha256(bytes)));
      assert.deepEqual(incoming(d), []);
      // A retry that gets the bytes right is taken: two WAVs of one length, the first sent by mistake.
      const [right, wrong] = [makeWav(61, { title: 'Retry' }), makeWav(62, { title: 'Retry' })];
      assert.equal(right.length, wrong.length);
      const s2 = await prepare(phone, [{ id: 'r', fileName: 'retry.wav', size: right.length, fileType: 'audio/wav', sha256: sha256(right), preview: null }]);
      const q2 = { sessionId: s2.sessionId, fileId: 'r', token: s2.files.r! };
      assert.equal((await phone.upload(url, q2, { base64: wrong.toString('base64') })).status, 422);
      const retried = await phone.upload(url, q2, { base64: right.toString('base64') }, { chunked: true });
      assert.equal(retried.status, 200, retried.body);
      const t = (await tracks(d)).find((x) => x.sha256 === sha256(right));
      assert.equal(t?.title, 'Retry');
      assert.ok(!(await tracks(d)).some((x) => x.sha256 === sha256(wrong)));
    });

    it('refuses a file that turns out not to be audio (415) and keeps nothing', async () => {
      const fake = fixture('notes.txt');
      const s = await prepare(phone, [{ id: 'f', fileName: 'fake.mp3', size: fake.length, fileType: 'audio/mpeg', sha256: null, preview: null }]);
      const r = await phone.upload(url, { sessionId: s.sessionId, fileId: 'f', token: s.files.f! }, { file: fixturePath('notes.txt') });
      assert.equal(r.status, 415);
      assert.deepEqual(incoming(d), []);
      // Not retryable: the session is over.
      await prepare(other, [audioFile('x', 'tone.mp3', 'audio/mpeg')]).then((s2) => cancel(other, s2.sessionId));
    });

    it('ends an idle session: a stalled upload is cut, its partial file removed, what was stored stays', async () => {
      const s = await prepare(phone, [audioFile('done', 'hires.flac', 'audio/flac'), audioFile('stall', 'tone-alac.m4a', 'audio/mp4')]);
      const ok = await phone.upload(url, { sessionId: s.sessionId, fileId: 'done', token: s.files.done! }, { file: fixturePath('hires.flac') });
      assert.equal(ok.status, 200, ok.body);
      const started = Date.now();
      const stalled = await phone.upload(url, { sessionId: s.sessionId, fileId: 'stall', token: s.files.stall! }, { file: fixturePath('tone-alac.m4a') }, { chunked: true, stallAfter: 20_000 });
      const waited = Date.now() - started;
      assert.equal(stalled.status, null, 'the stalled upload gets no answer: its connection is cut');
      assert.ok(waited >= (IDLE_S - 0.5) * 1000 && waited < (IDLE_S + 5) * 1000, `cut after ${waited} ms`);
      await d.waitForLog('LocalSend transfer ended', 5000, (e) => e.reason === 'expired');
      await eventually(async () => incoming(d).length === 0 || undefined);
      const all = await tracks(d);
      assert.ok(all.some((t) => t.sha256 === sha256(fixture('hires.flac'))), 'the finished file stays');
      assert.ok(!all.some((t) => t.sha256 === sha256(fixture('tone-alac.m4a'))));
      const late = await phone.upload(url, { sessionId: s.sessionId, fileId: 'stall', token: s.files.stall! }, { file: fixturePath('tone-alac.m4a') });
      assert.equal(late.status, 403);
      await prepare(other, [audioFile('x', 'tone.mp3', 'audio/mpeg')]).then((s2) => cancel(other, s2.sessionId));
    });
  });

  describe('with a PIN', () => {
    let phone: LocalSendPeer;
    let other: LocalSendPeer;
    let d: TestDaemon;
    before(async () => {
      [phone, other] = await Promise.all([LocalSendPeer.start('10.77.0.3', 'Pixel 8'), LocalSendPeer.start('10.77.0.4', 'Other Phone')]);
      d = await TestDaemon.start({ args: [...LOCALSEND, '--pin', '2468'] });
    });
    after(async () => {
      await d?.dispose();
      await Promise.all([phone?.stop(), other?.stop()]);
    });

    it('asks for the PIN (401), refuses wrong ones (401), then 429 after 3 wrong from one address', async () => {
      const files = [audioFile('a', 'tone.mp3', 'audio/mpeg')];
      const none = await phone.prepareUpload(url, files);
      assert.equal(none.status, 401);
      assert.match(json<{ message: string }>(none).message, /PIN/);
      for (let i = 0; i < 3; i++) assert.equal((await phone.prepareUpload(url, files, { pin: '0000' })).status, 401);
      const locked = await phone.prepareUpload(url, files, { pin: '2468' });
      assert.equal(locked.status, 429, 'even the right PIN waits now');
      const elsewhere = await other.prepareUpload(url, files, { pin: '2468' });
      assert.equal(elsewhere.status, 200, 'another device is not locked out');
      const s = json<{ sessionId: string; files: Record<string, string> }>(elsewhere);
      // The token is the proof from then on: uploads carry no PIN.
      const r = await other.upload(url, { sessionId: s.sessionId, fileId: 'a', token: s.files.a! }, { file: fixturePath('tone.mp3') });
      assert.equal(r.status, 200, r.body);
      assert.ok((await tracks(d)).some((t) => t.source.device === 'Other Phone'));
    });
  });

  it('keeps the stereo running when the LocalSend port is taken', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(53317, lan.stereo, resolve));
    const d = await TestDaemon.start({ args: LOCALSEND });
    try {
      await d.waitForLog('LocalSend receiver not started; phones will not see the stereo in LocalSend');
      assert.equal((await getJson(`${d.url}/api/v1/status`)).status, 200);
    } finally {
      await d.dispose();
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
