// The web remote in real headless Chromium at phone size, against the real daemon in the test LAN:
// library, search, push from the page (progress, messages, live appearance), playback, delete with
// and without a PIN, no console errors, and no request anywhere but the stereo.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { TestDaemon } from '../helpers/daemon.js';
import { fixture, fixturePath, makeWav } from '../helpers/fixtures.js';
import { getJson, pushFile, rawRequest, type TrackJson } from '../helpers/api.js';

/** Never let the browser reach anything but the test LAN: no background services, no QUIC, no sync. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PIXEL_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36';
const SCREENSHOT = '/tmp/hifid-remote.png';

// The browser globals the page functions below use: this test compiles without the DOM library.
declare const document: { querySelector(selector: string): unknown; querySelectorAll(selector: string): ArrayLike<unknown> };
declare const sessionStorage: { clear(): void };
declare const window: { notReloaded?: boolean };
interface ImageLike {
  complete: boolean;
  naturalWidth: number;
}
interface AudioLike {
  readyState: number;
  currentTime: number;
  addEventListener(type: 'seeked', listener: () => void, options: { once: boolean }): void;
}

interface Recorder {
  requests: string[];
  problems: string[];
  /** Failed-status console lines the test caused on purpose, as `METHOD status path`. */
  expectedFailures: Set<string>;
}

/** A phone-sized page that records every request and every console error or page error. */
async function phonePage(browser: Browser): Promise<{ context: BrowserContext; page: Page; rec: Recorder }> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, userAgent: PIXEL_UA, colorScheme: 'light' });
  const page = await context.newPage();
  const rec: Recorder = { requests: [], problems: [], expectedFailures: new Set() };
  const failed = new Map<string, string>(); // url → "METHOD status path" of responses >= 400
  page.on('request', (r) => rec.requests.push(r.url()));
  page.on('response', (r) => {
    if (r.status() >= 400) failed.set(r.url(), `${r.request().method()} ${r.status()} ${new URL(r.url()).pathname}`);
  });
  page.on('pageerror', (e) => rec.problems.push(`page error: ${e.message}`));
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() !== 'error') return;
    // Chromium logs every 4xx as "Failed to load resource"; those the test provoked (a non-audio
    // push, a wrong PIN) are expected, anything else is a problem.
    const what = failed.get(m.location().url);
    if (/Failed to load resource/.test(m.text()) && what && rec.expectedFailures.has(what)) return;
    rec.problems.push(`console error: ${m.text()} (${m.location().url})`);
  });
  return { context, page, rec };
}

function assertOnlyStereo(rec: Recorder, base: string): void {
  const origin = new URL(base).origin;
  assert.ok(rec.requests.length > 0);
  const elsewhere = rec.requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin);
  assert.deepEqual(elsewhere, [], 'the page requested something outside the stereo');
}

describe('web remote (headless Chromium, phone size)', function () {
  this.timeout(90_000);
  let browser: Browser;
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'hifid-web-'));
    // Playwright gives every launch a fresh temporary profile (--user-data-dir).
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  describe('without a PIN', () => {
    let d: TestDaemon;
    let page: Page;
    let context: BrowserContext;
    let rec: Recorder;

    before(async () => {
      d = await TestDaemon.start();
      await d.idle();
      for (const name of ['art.mp3', 'tone.flac', 'tone.ogg']) {
        const r = await pushFile(d.url, name, fixture(name), { 'X-Hifid-Device': 'Kitchen iPad' });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      let seed = 900;
      for (const [title, artist, album] of [
        ['Jóga', 'Björk', 'Homogenic'],
        ['Hunter', 'Björk', 'Homogenic'],
        ['Teardrop', 'Massive Attack', 'Mezzanine'],
      ] as const) {
        const r = await pushFile(d.url, `${title}.wav`, makeWav(seed++, { title, artist, album }), { 'X-Hifid-Device': 'Kitchen iPad' });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      ({ context, page, rec } = await phonePage(browser));
    });
    after(async () => {
      await context?.close();
      await d?.dispose();
    });

    it('serves the page with its security headers and a small script', async () => {
      const res = await fetch(`${d.url}/`, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /img-src 'self' data:/);
      assert.match(csp, /media-src 'self'/);
      const html = await res.text();
      const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
      assert.ok(script, html);
      const js = await fetch(`${d.url}${script}`, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(js.headers.get('cache-control') ?? '', /immutable/);
      const etag = js.headers.get('etag')!;
      const again = await fetch(`${d.url}${script}`, { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304);
      for (const p of ['/favicon.svg', '/favicon.ico', '/manifest.webmanifest', '/icons/icon-192.png']) {
        const r = await fetch(`${d.url}${p}`);
        assert.equal(r.status, 200, p);
      }
      // Only files that exist are routes: no traversal, no directory listing.
      for (const p of ['/assets/', '/..%2fpackage.json', '/assets/..%2f..%2fpackage.json', '/assets/../../package.json', '/%2e%2e/package.json', '/index.html/..', '/dist/web/index.html']) {
        const r = await rawRequest(d.url, { path: p });
        assert.equal(r.status, 404, p);
      }
      const head = await rawRequest(d.url, { method: 'HEAD', path: '/' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.ok(Number(head.headers['content-length']) > 0);
    });

    it('shows the library: albums with covers, then artists → albums → tracks', async () => {
      await page.goto(`${d.url}/`);
      await page.getByRole('heading', { name: 'Albums', level: 1 }).waitFor();
      for (const album of ['Test Album', 'Homogenic', 'Mezzanine']) await page.locator('.album-card', { hasText: album }).waitFor();
      // The album with art shows its cover from the API; the others a drawn placeholder.
      const cover = page.locator('.album-card', { hasText: 'Test Album' }).locator('img.cover');
      await cover.waitFor();
      assert.match((await cover.getAttribute('src')) ?? '', /^\/api\/v1\/tracks\/[0-9a-f]+\/art$/);
      await page.waitForFunction(() => Array.from(document.querySelectorAll('img.cover') as ArrayLike<ImageLike>).every((i) => i.complete && i.naturalWidth > 0));
      await page.getByRole('link', { name: 'Artists' }).click();
      await page.getByRole('link', { name: /Björk/ }).click();
      await page.getByRole('heading', { name: 'Björk', level: 1 }).waitFor();
      await page.locator('.album-card', { hasText: 'Homogenic' }).click();
      await page.getByRole('heading', { name: 'Homogenic', level: 1 }).waitFor();
      assert.deepEqual(await page.locator('.track-list .track-title').allInnerTexts(), ['Hunter', 'Jóga']);
    });

    it('searches as you type', async () => {
      await page.getByRole('searchbox').fill('joga');
      await page.getByRole('heading', { name: /Search/, level: 1 }).waitFor();
      await page.locator('.track-list .track-title', { hasText: 'Jóga' }).waitFor();
      assert.deepEqual(await page.locator('.track-list .track-title').allInnerTexts(), ['Jóga']);
      await page.getByRole('searchbox').fill('tone');
      await page.locator('.track-list li').nth(2).waitFor();
      assert.equal(await page.locator('.track-list li').count(), 3);
      await page.getByRole('searchbox').fill('');
    });

    it('pushes a picked file with a progress bar; it appears without a reload', async () => {
      await page.goto(`${d.url}/#/albums`);
      await page.getByRole('heading', { name: 'Albums', level: 1 }).waitFor();
      await page.evaluate(() => (window.notReloaded = true));
      // Slow the upload to ~1 MB/s so the progress bar is seen moving.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
      const file = path.join(tmp, 'Progress Song.wav');
      writeFileSync(file, makeWav(4242, { seconds: 200, title: 'Progress Song', artist: 'Uploader', album: 'Pushed Live' }));
      await page.locator('#push-input').setInputFiles(file);
      const row = page.locator('.upload', { hasText: 'Progress Song.wav' });
      await row.waitFor();
      // Part-way: a progress bar with some, not all, of the bytes.
      await page.waitForFunction(() => {
        const p = document.querySelector('.upload progress') as { value: number; max: number } | null;
        return !!p && p.value > 0 && p.value < p.max;
      });
      await page.screenshot({ path: SCREENSHOT, fullPage: false });
      await page.locator('.upload[data-state="added"]', { hasText: 'Progress Song.wav' }).waitFor({ timeout: 30_000 });
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      assert.match(await row.locator('.upload-message').innerText(), /Added to the library/);
      // The album grid shows it, brought by the live event, not by a reload.
      await page.locator('.album-card', { hasText: 'Pushed Live' }).waitFor();
      assert.equal(await page.evaluate(() => window.notReloaded), true);
      // "Pushed from" names this phone as its User-Agent says.
      const list = await getJson(`${d.url}/api/v1/tracks?q=Progress%20Song`);
      assert.equal((list.body.items as TrackJson[])[0]?.source.device, 'Pixel 8');
    });

    it('shows a track another phone pushes, live', async () => {
      await page.goto(`${d.url}/#/recent`);
      await page.getByRole('heading', { name: 'Recently added', level: 1 }).waitFor();
      const r = await pushFile(d.url, 'live.wav', makeWav(77, { title: 'Live Arrival', artist: 'Elsewhere', album: 'Elsewhere' }), { 'X-Hifid-Device': 'Other phone' });
      assert.equal(r.status, 201);
      await page.locator('.track-list li.fresh .track-title', { hasText: 'Live Arrival' }).waitFor();
      await page.getByRole('link', { name: 'Pushed from' }).click();
      for (const name of ['Other phone', 'Pixel 8', 'Kitchen iPad']) await page.locator('.name-list a', { hasText: name }).waitFor();
    });

    it('says why a duplicate and a non-audio file were not stored', async () => {
      rec.expectedFailures.add('POST 415 /api/v1/tracks');
      await page.locator('#push-input').setInputFiles([fixturePath('tone.flac'), fixturePath('notes.txt')]);
      const dup = page.locator('.upload', { hasText: 'tone.flac' });
      const txt = page.locator('.upload', { hasText: 'notes.txt' });
      await page.locator('.upload[data-state="duplicate"]', { hasText: 'tone.flac' }).waitFor();
      await page.locator('.upload[data-state="failed"]', { hasText: 'notes.txt' }).waitFor();
      assert.match(await dup.locator('.upload-message').innerText(), /Already in the library/);
      assert.match(await txt.locator('.upload-message').innerText(), /Not an audio file/);
    });

    it('plays a track in the page and seeks', async () => {
      await page.goto(`${d.url}/#/recent`);
      await page.getByRole('button', { name: 'Play Teardrop' }).click();
      const audio = page.locator('.player audio');
      await audio.waitFor();
      assert.match((await audio.getAttribute('src')) ?? '', /^\/api\/v1\/tracks\/[0-9a-f]+\/stream$/);
      await page.waitForFunction(() => ((document.querySelector('.player audio') as AudioLike | null)?.readyState ?? 0) >= 1);
      const seeked = await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const a = document.querySelector('.player audio') as AudioLike;
            a.addEventListener('seeked', () => resolve(a.currentTime), { once: true });
            a.currentTime = 1.25;
          }),
      );
      assert.ok(Math.abs(seeked - 1.25) < 0.1, String(seeked));
      await page.getByRole('button', { name: 'Close player' }).click();
    });

    it('deletes a track after asking', async () => {
      const list = await getJson(`${d.url}/api/v1/tracks?q=Hunter`);
      const hunter = (list.body.items as TrackJson[])[0]!;
      await page.goto(`${d.url}/#/track/${hunter.id}`);
      await page.getByRole('heading', { name: 'Hunter', level: 1 }).waitFor();
      await page.getByRole('button', { name: 'Delete' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete this track?' });
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Delete' }).click();
      // Back on its album, without the track.
      await page.getByRole('heading', { name: 'Homogenic', level: 1 }).waitFor();
      await page.waitForFunction(() => !Array.from(document.querySelectorAll('.track-title') as ArrayLike<{ textContent: string | null }>).some((e) => e.textContent === 'Hunter'));
      assert.equal((await getJson(`${d.url}/api/v1/tracks/${hunter.id}`)).status, 404);
    });

    it('made no console errors and asked nothing of anyone but the stereo', () => {
      assert.deepEqual(rec.problems, []);
      assertOnlyStereo(rec, d.url);
      // It did use the live event stream and the album art.
      assert.ok(rec.requests.some((u) => u.endsWith('/api/v1/events')));
      assert.ok(rec.requests.some((u) => /\/art$/.test(u)));
    });
  });

  describe('with a PIN', () => {
    let d: TestDaemon;
    let context: BrowserContext;
    let page: Page;
    let rec: Recorder;

    before(async () => {
      d = await TestDaemon.start({ args: ['--pin', '4321'] });
      await d.idle();
      const r = await pushFile(d.url, 'tone.mp3', fixture('tone.mp3'), { 'X-Hifid-Pin': '4321' });
      assert.equal(r.status, 201);
      ({ context, page, rec } = await phonePage(browser));
    });
    after(async () => {
      await context?.close();
      await d?.dispose();
    });

    it('asks for the PIN to push, and again after a wrong one', async () => {
      rec.expectedFailures.add('POST 403 /api/v1/tracks');
      await page.goto(`${d.url}/`);
      await page.locator('.album-card', { hasText: 'Test Album' }).waitFor();
      await page.locator('#push-input').setInputFiles(fixturePath('tone.ogg'));
      const dialog = page.getByRole('dialog', { name: 'PIN' });
      await dialog.waitFor();
      await dialog.getByLabel("The stereo's PIN").fill('0000');
      await dialog.getByRole('button', { name: 'OK' }).click();
      await dialog.getByText('That PIN was wrong').waitFor();
      await dialog.getByLabel("The stereo's PIN").fill('4321');
      await dialog.getByRole('button', { name: 'OK' }).click();
      await page.locator('.upload[data-state="added"]', { hasText: 'tone.ogg' }).waitFor();
    });

    it('asks for the PIN to delete', async () => {
      // A new tab knows no PIN yet (it is kept per tab).
      await page.evaluate(() => sessionStorage.clear());
      rec.expectedFailures.add('DELETE 401 /api/v1/tracks');
      const list = await getJson(`${d.url}/api/v1/tracks?q=tone`);
      const t = (list.body.items as TrackJson[]).find((x) => x.codec !== 'vorbis') ?? (list.body.items as TrackJson[])[0]!;
      await page.goto(`${d.url}/#/track/${t.id}`);
      await page.reload();
      await page.getByRole('heading', { name: t.title, level: 1 }).waitFor();
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('dialog', { name: 'Delete this track?' }).getByRole('button', { name: 'Delete' }).click();
      const pin = page.getByRole('dialog', { name: 'PIN' });
      await pin.waitFor();
      await pin.getByLabel("The stereo's PIN").fill('4321');
      await pin.getByRole('button', { name: 'OK' }).click();
      await page.getByRole('heading', { name: 'Albums', level: 1 }).or(page.getByRole('heading', { name: t.album, level: 1 })).waitFor();
      for (let i = 0; (await getJson(`${d.url}/api/v1/tracks/${t.id}`)).status !== 404; i++) {
        assert.ok(i < 100, 'the track was not deleted');
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    it('made no console errors and asked nothing of anyone but the stereo', () => {
      assert.deepEqual(rec.problems, []);
      assertOnlyStereo(rec, d.url);
    });
  });
});
