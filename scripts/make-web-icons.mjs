#!/usr/bin/env node
// Draws the web remote's PNG icons (home screen, app manifest) and favicon.ico from
// daemon/web/public/favicon.svg, once, with headless Chromium; the results are committed under
// daemon/web/public/. Chromium must run inside the test LAN:
//   scripts/test-lan.sh node scripts/make-web-icons.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

if (process.env.HIFID_TEST_LAN !== '1') throw new Error('run me inside scripts/test-lan.sh');
const PUBLIC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'daemon', 'web', 'public');
const svg = readFileSync(path.join(PUBLIC, 'favicon.svg'), 'utf8');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  // A fresh profile: Playwright makes a new temporary --user-data-dir for every launch.
});
try {
  const page = await browser.newPage();
  const shot = async (size, { inset = 0, background = null } = {}) => {
    await page.setViewportSize({ width: size, height: size });
    const bg = background ? `background:${background};` : '';
    await page.setContent(`<html><body style="margin:0;${bg}"><div style="width:${size}px;height:${size}px;padding:${inset}px;box-sizing:border-box">${svg.replace('<svg ', '<svg width="100%" height="100%" ')}</div></body></html>`);
    return page.screenshot({ omitBackground: !background, type: 'png' });
  };
  writeFileSync(path.join(PUBLIC, 'icons', 'icon-192.png'), await shot(192));
  writeFileSync(path.join(PUBLIC, 'icons', 'icon-512.png'), await shot(512));
  // iOS draws its own rounded corners and shows transparency as black: fill the square.
  writeFileSync(path.join(PUBLIC, 'icons', 'apple-touch-icon.png'), await shot(180, { background: '#b3471d' }));
  // favicon.ico holding one 32 px PNG (allowed since Windows Vista; every browser reads it).
  const png = await shot(32);
  const head = Buffer.alloc(22);
  head.writeUInt16LE(0, 0); // reserved
  head.writeUInt16LE(1, 2); // type: icon
  head.writeUInt16LE(1, 4); // one image
  head.writeUInt8(32, 6); // width
  head.writeUInt8(32, 7); // height
  head.writeUInt8(0, 8); // no palette
  head.writeUInt8(0, 9);
  head.writeUInt16LE(1, 10); // colour planes
  head.writeUInt16LE(32, 12); // bits per pixel
  head.writeUInt32LE(png.length, 14);
  head.writeUInt32LE(22, 18); // offset of the image
  writeFileSync(path.join(PUBLIC, 'favicon.ico'), Buffer.concat([head, png]));
} finally {
  await browser.close();
}
console.log('icons written to', PUBLIC);
