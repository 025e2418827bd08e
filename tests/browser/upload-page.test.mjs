// The member upload page (GET / with UPLOAD_PAGE=on) in a real browser:
// Debian's chromium driven by playwright-core, against the built Worker in
// workerd (Miniflare) with KV and R2. A person's steps: take the token (the
// demo token, or a pasted one), choose a photo, move the crop frame with the
// mouse and the keyboard, resize it, upload; then the avatar shown must be
// the returned URL, AVATAR_SIZE square, and the colour of the one quadrant
// of tests/fixtures/orient-*.jpg (red | green over blue | white) the frame
// was on. Also: server messages next to the controls, English and Chinese.
// HEIC/HEIF, told by its bytes: Chromium cannot show it, so the page says,
// in the member's language, that it goes as it is, and the service decodes
// it (a real HEIC becomes the avatar; a HEIC-looking fake gets the
// service's refusal, in one language). The conversion
// that Safari gets for HEIC (a JPEG drawn from the upright image the page
// shows, at most 16.7 MP, the crop box scaled with it) runs here on AVIF,
// which Chromium can read, through ?convert=avif (see the page's CONVERT).
//
// Needs chromium (bash scripts/setup-browser.sh) and the npm package
// playwright-core. Without them the suite is skipped locally and fails in
// CI (CI set) or with AVATAR_REQUIRE_BROWSER=1. Screenshots: tests/output/.
// AVATAR_PAGE_FROM_SOURCE=1 serves src/page/index.html instead of the page
// compiled into the build (a dev aid while editing the page; the Worker's
// own headers, CSP included, are kept).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SKIP as NO_BUILD, startWorker, seedUser, getProfile, getObjectBytes, FIXTURES, REPO_ROOT, PROFILE } from '../lib/worker.mjs';
import { mintToken, nowSec } from '../lib/token.mjs';
import { decodeRGBA, regionMean, regionMaxDiff, jpegInfo } from '../lib/images.mjs';
import sharp from 'sharp';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const OUT = path.join(REPO_ROOT, 'tests', 'output');
const SIZE = 256;
const RED = [255, 0, 0], GREEN = [0, 255, 0], BLUE = [0, 0, 255], WHITE = [255, 255, 255];

let pw = null;
const missing = [];
try {
  pw = await import('playwright-core');
} catch (e) {
  missing.push(`the npm package playwright-core is not installed (a devDependency; run npm ci): ${e.message.split('\n')[0]}`);
}
if (!existsSync(CHROMIUM)) missing.push(`no browser at ${CHROMIUM}: run bash scripts/setup-browser.sh (or set CHROMIUM_PATH)`);
const REQUIRED = Boolean(process.env.CI || process.env.AVATAR_REQUIRE_BROWSER);
const SKIP = NO_BUILD || (missing.length ? `browser test skipped: ${missing.join('; ')}` : false);

test('browser test prerequisites: chromium and playwright-core', { skip: !REQUIRED && missing.length ? SKIP : false }, () => {
  assert.deepEqual(missing, [], `the upload-page browser test cannot run:\n- ${missing.join('\n- ')}`);
});

describe('upload page in chromium', { skip: SKIP, timeout: 240_000 }, () => {
  let w, browser;
  const demoToken = mintToken({ userId: 1 });
  const source = readFileSync(path.join(REPO_ROOT, 'src', 'page', 'index.html'), 'utf8');

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    [w, browser] = await Promise.all([
      startWorker({ UPLOAD_PAGE: 'on', OUTPUT_FORMAT: 'png', AVATAR_SIZE: String(SIZE), DEV_DEMO_TOKEN: demoToken }),
      pw.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
    ]);
    await seedUser(w.kv, { id: 1 });
    await seedUser(w.kv, { id: 2 });
    if (!process.env.AVATAR_PAGE_FROM_SOURCE) {
      const served = await (await fetch(w.url)).text();
      if (served !== source.replace('__DEMO_TOKEN__', demoToken)) {
        process.stderr.write('# note: the page in the build differs from src/page/index.html: rebuild (npm run build)\n');
      }
    }
  });
  after(async () => {
    await browser?.close();
    await w?.dispose();
  });

  /** A fresh browser profile in `locale`, with console errors collected. */
  async function open(locale, { scale = 1, query = '' } = {}) {
    const context = await browser.newContext({ locale, viewport: { width: 1000, height: 760 }, deviceScaleFactor: scale });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => {
      // The browser's own favicon probe: the Worker has no /favicon.ico (and
      // the page's CSP allows no data: icon), which a person never sees.
      if (m.type() === 'error' && !/\/favicon\.ico$/.test(m.location()?.url ?? '')) problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    if (process.env.AVATAR_PAGE_FROM_SOURCE) {
      await page.route((u) => u.origin === w.url.origin && u.pathname === '/', async (route) => {
        const res = await route.fetch();
        const headers = { ...res.headers() };
        delete headers['content-encoding']; delete headers['content-length'];
        await route.fulfill({ response: res, headers, body: source.replace('__DEMO_TOKEN__', demoToken) });
      });
    }
    const res = await page.goto(new URL(`/${query}`, w.url).href);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-security-policy'] ?? '', /default-src 'none'/);
    return { context, page, problems };
  }

  const shot = (page, name) => page.screenshot({ path: path.join(OUT, `upload-page-${name}.png`), fullPage: true });

  /** Watches the progress bar: every value it shows, in order. */
  const watchProgress = (page) => page.evaluate(() => {
    const bar = document.getElementById('progress');
    window.__progress = [];
    new MutationObserver(() => window.__progress.push(bar.value)).observe(bar, { attributes: true, attributeFilter: ['value'] });
  });

  /** Crop fields of the multipart upload a request carries. */
  function cropFields(sent) {
    const body = sent?.toString('latin1') ?? '';
    const f = {};
    for (const k of ['crop_x', 'crop_y', 'crop_w', 'crop_h']) {
      const m = body.match(new RegExp(`name="${k}"\\r\\n\\r\\n(\\d+)\\r\\n`));
      f[k] = m ? Number(m[1]) : undefined;
    }
    return f;
  }

  /** Records in the page every XMLHttpRequest's answer (status and text)
   * as it ends. Playwright's response event once went missing for an
   * upload that the server answered and the page showed (seen in a full
   * `npm test` run), so the answer is read where the page reads it. */
  const watchAnswers = (page) => page.evaluate(() => {
    if (window.__answers) return window.__answers.length;
    window.__answers = [];
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (...args) {
      this.addEventListener('loadend', () => window.__answers.push({ status: this.status, text: this.responseText }));
      return send.apply(this, args);
    };
    return 0;
  });

  /** Clicks (or presses, for keyboard users) Upload and returns the request, the JSON answer and the progress seen. */
  async function doUpload(page, how = 'click') {
    await watchProgress(page);
    const answered = await watchAnswers(page);
    // Routed so that the multipart body is visible to the test (Chromium
    // does not report upload bodies with files to unrouted observers).
    // The route handler is also the signal that the request left: a
    // separate waitForRequest once missed a request that the server
    // answered (seen in a full `npm test` run, not reproduced alone).
    let sent;
    let markSent;
    const reqP = new Promise((resolve) => { markSent = resolve; });
    await page.route('**/api/user/avatar', (route) => {
      const r = route.request();
      if (r.method() === 'POST') { sent = r.postDataBuffer(); markSent(r); }
      return route.continue();
    });
    if (how === 'click') await page.getByRole('button', { name: /^(Upload|上传)$/ }).click();
    else await page.keyboard.press(how);
    // Times out when no answer comes; the route handler ran before the
    // request left, so by then the request is known.
    await page.waitForFunction((n) => window.__answers.length > n, answered);
    const req = await Promise.race([reqP, new Promise((_, reject) => {
      setTimeout(() => reject(new Error('an answer came but no upload request was routed')), 5000).unref();
    })]);
    const res = await page.evaluate((n) => window.__answers[n], answered);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.text);
    await page.waitForFunction(() => document.getElementById('upload').getAttribute('aria-disabled') === 'false');
    const seen = await page.evaluate(() => window.__progress);
    await page.unroute('**/api/user/avatar');
    return { req, sent, res, body, seen };
  }

  /** The file part of a multipart upload: its name, type and bytes. */
  function filePart(sent) {
    const text = sent.toString('latin1');
    const m = text.match(/Content-Disposition: form-data; name="file"; filename="([^"]*)"\r\nContent-Type: ([^\r]*)\r\n\r\n/);
    assert.ok(m, 'the upload has a file part');
    const start = m.index + m[0].length;
    const end = text.indexOf(`\r\n${text.slice(0, text.indexOf('\r\n'))}`, start);
    return { name: m[1], type: m[2], bytes: sent.subarray(start, end) };
  }

  /** The red colorant (rXYZ, D50) of a JPEG's ICC profile, or null when it has none. */
  function iccRedPrimary(jpeg) {
    const chunks = [];
    for (let off = 2; off + 4 <= jpeg.length && jpeg[off] === 0xff && jpeg[off + 1] !== 0xda;) {
      const len = jpeg.readUInt16BE(off + 2);
      if (jpeg[off + 1] === 0xe2 && jpeg.toString('latin1', off + 4, off + 16) === 'ICC_PROFILE\0') chunks.push(jpeg.subarray(off + 18, off + 2 + len));
      off += 2 + len;
    }
    if (!chunks.length) return null;
    const icc = Buffer.concat(chunks);
    for (let i = 0, n = icc.readUInt32BE(128); i < n; i++) {
      const e = 132 + 12 * i;
      if (icc.toString('latin1', e, e + 4) === 'rXYZ') {
        const at = icc.readUInt32BE(e + 4) + 8;
        return [0, 1, 2].map((c) => icc.readInt32BE(at + 4 * c) / 65536);
      }
    }
    return null;
  }

  /** The crop frame as the page says it (aria-valuetext), in upright pixels of the photo shown. */
  async function frameBox(page) {
    const t = await page.locator('#frame').getAttribute('aria-valuetext');
    const m = t.match(/x=(\d+) y=(\d+), (\d+)×\d+ px/);
    assert.ok(m, t);
    return { x: Number(m[1]), y: Number(m[2]), s: Number(m[3]) };
  }

  /** Waits for the avatar <img> and reads its pixels through a canvas. */
  async function shownAvatar(page) {
    await page.waitForFunction(() => { const a = document.getElementById('avatar'); return a.complete && a.naturalWidth > 0; });
    const r = await page.evaluate(() => {
      const a = document.getElementById('avatar');
      const c = document.createElement('canvas');
      c.width = a.naturalWidth; c.height = a.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(a, 0, 0);
      const px = g.getImageData(0, 0, c.width, c.height).data;
      return { src: a.currentSrc || a.src, width: a.naturalWidth, height: a.naturalHeight, visible: !a.hidden, data: Array.from(px) };
    });
    return { ...r, img: { data: Uint8Array.from(r.data), width: r.width, height: r.height, channels: 4 } };
  }

  /** The mean colour of the box [x0,x1)x[y0,y1) is within `tol` of `rgb`. */
  function expectColour(img, [x0, y0, x1, y1], rgb, label, tol = 12) {
    const mean = regionMean(img, x0, y0, x1, y1).slice(0, 3);
    assert.ok(mean.every((v, i) => Math.abs(v - rgb[i]) <= tol), `${label}: expected ${rgb}, mean ${mean.map(Math.round)}`);
  }

  /** The whole avatar must be `rgb` (the frame covered one quadrant only). */
  function expectSolid(img, rgb, label) {
    const mean = regionMean(img, 0, 0, img.width, img.height).slice(0, 3);
    const { worst, at } = regionMaxDiff(img, 0, 0, img.width, img.height, rgb);
    assert.ok(mean.every((v, i) => Math.abs(v - rgb[i]) <= 12) && worst <= 48,
      `${label}: avatar should be all ${rgb}; mean ${mean.map(Math.round)}, worst pixel ${JSON.stringify(at)}`);
  }

  /** The crop box sent lies inside [x0,x1)x[y0,y1) of the upright image. */
  function expectBoxInside(f, [x0, y0, x1, y1], label) {
    assert.ok(f.crop_w > 0 && f.crop_w === f.crop_h, `${label}: square crop expected, got ${JSON.stringify(f)}`);
    assert.ok(f.crop_x >= x0 && f.crop_y >= y0 && f.crop_x + f.crop_w <= x1 && f.crop_y + f.crop_h <= y1,
      `${label}: crop box ${JSON.stringify(f)} is not inside [${x0},${y0})-(${x1},${y1})`);
  }

  /**
   * The member's avatar is `url` as GET /api/user/detail shows it (from
   * R2), and the KV profile is as seeded: an upload writes R2 only.
   */
  async function expectProfileShows(id, token, url) {
    const detail = await (await fetch(new URL('/api/user/detail', w.url), { headers: { Token: token } })).json();
    assert.equal(detail.code, 0, JSON.stringify(detail));
    assert.equal(detail.data.avatar_url, url);
    const profile = await getProfile(w.kv, id);
    assert.deepEqual(profile, { ...PROFILE, id, user_name: id === 1 ? 'alice' : `user${id}` }, 'the KV profile is never written');
  }

  /** Where an upright image point (x, y) is on screen. */
  async function screenPoint(page, x, y) {
    const box = await page.locator('#preview').boundingBox();
    const nat = await page.evaluate(() => ({ w: document.getElementById('preview').naturalWidth }));
    const k = box.width / nat.w;
    return { x: box.x + x * k, y: box.y + y * k, k };
  }

  test('en-US: demo token, mouse drag + keyboard + zoom slider onto the blue quadrant (EXIF 6), upload, avatar shown and stored', async () => {
    const { context, page, problems } = await open('en-US', { scale: 2 });
    try {
      // English throughout; every control has a name a screen reader reads.
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
      assert.equal(await page.title(), 'Upload your avatar');
      assert.equal(await page.locator('h1').textContent(), 'Upload your avatar');
      const token = page.getByLabel('Login token');
      const fileInput = page.getByLabel('Choose a photo');
      // Nothing but the form before a photo is chosen (no crop stage, no
      // darkening overlay, no empty result).
      for (const id of ['#stage', '#frame', '#zoom-row', '#result', '#progress']) {
        assert.equal(await page.locator(id).evaluate((e) => e.checkVisibility()), false, `${id} must be hidden before a photo is chosen`);
      }
      // The demo token (DEV_DEMO_TOKEN) is in the meta tag and prefilled.
      assert.equal(await page.locator('meta[name=demo-token]').getAttribute('content'), demoToken);
      assert.equal(await token.inputValue(), demoToken);
      assert.match(await page.locator('#token-msg').textContent(), /demo user/);
      await shot(page, 'en-0-start');
      // Upload before choosing a photo: told what is missing, by the file input.
      await page.getByRole('button', { name: 'Upload' }).click();
      assert.equal(await page.locator('#file-msg').textContent(), 'Choose a photo first.');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'file');

      // orient-6.jpg: stored 64x96 with EXIF orientation 6; upright 96x64.
      await fileInput.setInputFiles(path.join(FIXTURES, 'orient-6.jpg'));
      await page.locator('#stage').waitFor({ state: 'visible' });
      const nat = await page.evaluate(() => { const i = document.getElementById('preview'); return [i.naturalWidth, i.naturalHeight]; });
      assert.deepEqual(nat, [96, 64], 'the preview must be upright (EXIF orientation applied)');
      const frame = page.getByRole('slider', { name: 'Crop frame' });
      const zoom = page.getByRole('slider', { name: 'Crop size' });
      assert.equal(await frame.getAttribute('aria-valuenow'), '100');
      // A tiny photo is shown large enough to handle the frame.
      const pre = await page.locator('#preview').boundingBox();
      assert.ok(pre.width >= 300, `preview of a 96x64 photo is only ${pre.width}px wide`);

      // Zoom slider by keyboard: 100% -> 40% of the short side (25.6 px).
      await zoom.focus();
      for (let i = 0; i < 60; i++) await page.keyboard.press('ArrowLeft');
      assert.equal(await zoom.inputValue(), '40');
      assert.equal(await frame.getAttribute('aria-valuenow'), '40');

      // Wheel over the photo: plain scrolls the page, Ctrl+wheel resizes.
      await page.evaluate(() => window.scrollTo(0, 0));
      const mid = await screenPoint(page, 48, 32);
      await page.mouse.move(mid.x, mid.y);
      await page.mouse.wheel(0, 100);
      await page.waitForFunction(() => scrollY > 0);
      assert.equal(await frame.getAttribute('aria-valuenow'), '40', 'a plain wheel must not resize the frame');
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.keyboard.down('Control');
      await page.mouse.wheel(0, -100);
      await page.keyboard.up('Control');
      await page.waitForFunction(() => document.getElementById('frame').getAttribute('aria-valuenow') === '45');
      await page.keyboard.down('Control');
      await page.mouse.wheel(0, 100);
      await page.keyboard.up('Control');
      await page.waitForFunction(() => document.getElementById('frame').getAttribute('aria-valuenow') === '40');

      // Mouse: drag the frame's centre onto (22, 16), the red quadrant.
      const fb = await frame.boundingBox();
      const to = await screenPoint(page, 22, 16);
      await page.mouse.move(fb.x + fb.width / 2, fb.y + fb.height / 2);
      await page.mouse.down();
      await page.mouse.move(to.x, to.y, { steps: 8 });
      await page.mouse.up();
      const afterDrag = await frame.getAttribute('aria-valuetext');
      const m = afterDrag.match(/x=(\d+) y=(\d+)/);
      assert.ok(m && Math.abs(Number(m[1]) - 9) <= 1 && Math.abs(Number(m[2]) - 3) <= 1, `after the drag: ${afterDrag}`);

      // Keyboard: 32 px down into the blue quadrant (Shift+arrow = 10 steps).
      await frame.focus();
      for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+ArrowDown');
      for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowDown');
      assert.match(await frame.getAttribute('aria-valuetext'), / y=35,/);
      await shot(page, 'en-1-cropped');
      // On screen: the photo outside the frame is shaded, inside it is not,
      // and the shade stays on the photo (the page around is white).
      const onScreen = async (x, y) => {
        const png = await page.screenshot({ clip: { x: x - 2, y: y - 2, width: 4, height: 4 } });
        const im = await decodeRGBA(png);
        return regionMean(im, 0, 0, im.width, im.height).slice(0, 3).map(Math.round);
      };
      const inFrame = await screenPoint(page, 22, 48), outside = await screenPoint(page, 72, 16);
      const [seenIn, seenOut, seenPage] = [await onScreen(inFrame.x, inFrame.y), await onScreen(outside.x, outside.y), await onScreen(4, 4)];
      assert.ok(seenIn[2] > 240 && seenIn[0] < 15, `inside the frame should be unshaded blue: ${seenIn}`);
      assert.ok(seenOut[1] > 90 && seenOut[1] < 200, `outside the frame should be shaded green: ${seenOut}`);
      assert.deepEqual(seenPage, [255, 255, 255], 'the page around the photo must not be shaded');

      const { sent, body, seen } = await doUpload(page);
      const f = cropFields(sent);
      expectBoxInside(f, [0, 32, 48, 64], 'blue quadrant');

      assert.equal(body.code, 0, `upload failed: ${JSON.stringify(body)}`);
      const url = body.data.avatar_url;
      assert.match(url, /\/uploads\/user\/1\.png\?v=/);
      assert.equal(await page.locator('#progress').evaluate((p) => p.value), 100);
      assert.equal(await page.locator('#percent').textContent(), '100%');
      assert.equal(seen.at(-1), 100, `progress values seen: ${seen}`);
      assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]), `progress went back: ${seen}`);
      assert.equal(await page.locator('#upload-msg').textContent(), 'Done: your new avatar is shown below.');
      assert.equal(JSON.parse(await page.locator('#json').textContent()).code, 0);

      // The avatar shown: from the returned URL, SIZE x SIZE, all blue.
      const shown = await shownAvatar(page);
      assert.equal(shown.src, url);
      assert.ok(shown.visible);
      assert.deepEqual([shown.width, shown.height], [SIZE, SIZE]);
      assert.equal(await page.getByRole('img', { name: 'Your new avatar' }).count(), 1);
      expectSolid(shown.img, BLUE, 'avatar in the page');

      // What was stored: the same, and the profile shows it.
      const stored = await getObjectBytes(w.r2, 'uploads/user/1.png');
      assert.equal(stored.contentType, 'image/png');
      const dec = await decodeRGBA(stored.bytes);
      assert.deepEqual([dec.width, dec.height], [SIZE, SIZE]);
      expectSolid(dec, BLUE, 'avatar in R2');
      await expectProfileShows(1, demoToken, url);
      await shot(page, 'en-2-done');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('zh-CN: pasted tokens, server messages next to the controls, keyboard-only crop onto the green quadrant', async () => {
    const { context, page, problems } = await open('zh-CN');
    try {
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
      assert.equal(await page.title(), '上传头像');
      assert.equal(await page.locator('h1').textContent(), '上传头像');
      const token = page.getByLabel('登录令牌 (Token)');
      const fileInput = page.getByLabel('选择图片');
      const uploadBtn = page.getByRole('button', { name: '上传' });
      const uploadMsg = page.locator('#upload-msg');

      // 1. An expired token: the server's "not logged in" by the token field.
      await token.fill(mintToken({ userId: 2, exp: nowSec() - 60 }));
      await fileInput.setInputFiles(path.join(FIXTURES, 'orient-1.jpg'));
      await page.locator('#stage').waitFor({ state: 'visible' });
      let r = await doUpload(page);
      assert.equal(r.body.code, 1001, JSON.stringify(r.body));
      assert.equal(await page.locator('#token-msg').textContent(), r.body.msg);
      assert.equal(await token.getAttribute('aria-invalid'), 'true');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'token', 'focus goes to the token to fix');
      await shot(page, 'zh-1-not-logged-in');

      // 2. A valid pasted token (user 2), and a text file named .jpg: the
      //    browser says it cannot show it; the server's refusal is shown by
      //    the Upload button, in Chinese, and nothing changes.
      await token.fill(mintToken({ userId: 2 }));
      assert.equal(await page.locator('#token-msg').textContent(), '粘贴 AnqiCMS 登录后得到的 token。', 'hint back once the token is edited');
      assert.equal(await token.getAttribute('aria-invalid'), null);
      await fileInput.setInputFiles(path.join(FIXTURES, 'text.jpg'));
      await page.locator('#file-msg.err').waitFor();
      assert.match(await page.locator('#file-msg').textContent(), /浏览器无法显示/);
      assert.equal(await fileInput.getAttribute('aria-invalid'), 'true');
      assert.equal(await page.locator('#stage').isVisible(), false);
      r = await doUpload(page);
      assert.equal(r.body.code, -1, JSON.stringify(r.body));
      assert.match(r.body.msg, /[\u4e00-\u9fff]/, `Chinese message expected: ${r.body.msg}`);
      assert.equal(await uploadMsg.textContent(), r.body.msg);
      assert.ok(await uploadMsg.isVisible());
      const [btn, msgBox] = [await uploadBtn.boundingBox(), await uploadMsg.boundingBox()];
      assert.ok(msgBox.y >= btn.y && msgBox.y - (btn.y + btn.height) < 40, `the message must be right by the Upload button: ${JSON.stringify({ btn, msgBox })}`);
      assert.equal(await uploadMsg.evaluate((e) => getComputedStyle(e).color), 'rgb(180, 35, 24)', 'errors in the error colour');
      assert.equal(await page.locator('#avatar').isVisible(), false, 'no (broken) avatar image after a failure');
      await expectProfileShows(2, mintToken({ userId: 2 }), '');
      await shot(page, 'zh-2-not-an-image');

      // 3. Keyboard only: choose orient-1.jpg, Tab to the frame, shrink it
      //    with "-", move it onto the green quadrant, Tab to Upload, Enter.
      await fileInput.setInputFiles(path.join(FIXTURES, 'orient-1.jpg'));
      await page.locator('#stage').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#file-msg').textContent(), '', 'the old error goes with a new photo');
      await fileInput.focus();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'frame', 'Tab from the file goes to the crop frame');
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), '裁剪框');
      for (let i = 0; i < 12; i++) await page.keyboard.press('-');
      assert.equal(await page.locator('#zoom').inputValue(), '40');
      // centred 25.6 px box at (35.2, 19.2) -> (55.2, 4.2)
      for (let i = 0; i < 2; i++) await page.keyboard.press('Shift+ArrowRight');
      await page.keyboard.press('Shift+ArrowUp');
      for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowUp');
      await shot(page, 'zh-3-cropped');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'zoom');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'upload');
      r = await doUpload(page, 'Enter');
      expectBoxInside(cropFields(r.sent), [48, 0, 96, 32], 'green quadrant');
      assert.equal(r.body.code, 0, JSON.stringify(r.body));
      assert.equal(r.body.msg, '上传成功');
      assert.equal(await uploadMsg.textContent(), '上传成功，新头像显示在下方。');
      assert.equal(r.seen.at(-1), 100);
      assert.equal(await page.evaluate(() => document.activeElement.id), 'upload', 'the keyboard focus stays on Upload');
      const url = r.body.data.avatar_url;
      assert.match(url, /\/uploads\/user\/2\.png\?v=/, 'the pasted token (user 2), not the demo token, was used');
      const shown = await shownAvatar(page);
      assert.equal(shown.src, url);
      assert.deepEqual([shown.width, shown.height], [SIZE, SIZE]);
      expectSolid(shown.img, GREEN, 'avatar in the page');
      await expectProfileShows(2, mintToken({ userId: 2 }), url);
      await shot(page, 'zh-4-done');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  // ------------------------------------------------------------ HEIC, AVIF

  /** An ISO-BMFF box. */
  const box = (type, ...payload) => {
    const body = Buffer.concat(payload);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + body.length);
    head.write(type, 4, 'latin1');
    return Buffer.concat([head, body]);
  };
  /**
   * A HEIF-looking file: an ftyp box (major brand, minor version 0,
   * compatible brands), a meta box whose item properties hold `codec`
   * (hvcC, av1C or none) and junk: what the page reads to tell the kind.
   */
  const heifLike = (major, compatible, codec) => Buffer.concat([
    box('ftyp', Buffer.from(major, 'latin1'), Buffer.alloc(4), ...compatible.map((c) => Buffer.from(c, 'latin1'))),
    box('meta', Buffer.alloc(4), box('hdlr', Buffer.alloc(8), Buffer.from('pict'), Buffer.alloc(13)),
      box('iprp', box('ipco', ...(codec ? [box(codec, Buffer.alloc(23))] : []), box('ispe', Buffer.alloc(12))))),
    box('mdat', Buffer.alloc(300, 0x5a)),
  ]);

  /** Quadrants red | green over blue | white, W x H, as an AVIF (4:4:4, Display P3 with `p3`). */
  async function quadrantAvif(W, H, { p3 = false } = {}) {
    const q = (c, left, top) => ({ input: { create: { width: W / 2, height: H / 2, channels: 3, background: c } }, left, top });
    const png = await sharp({ create: { width: W, height: H, channels: 3, background: '#ffffff' } })
      .composite([q('#ff0000', 0, 0), q('#00ff00', W / 2, 0), q('#0000ff', 0, H / 2)]).png().toBuffer();
    const img = sharp(png);
    if (p3) img.withIccProfile('p3');
    return img.avif({ quality: 90, chromaSubsampling: '4:4:4', effort: 0 }).toBuffer();
  }

  /** Counts the uploads (POST /api/user/avatar) a page sends. */
  function countUploads(page) {
    const seen = { n: 0 };
    page.on('request', (r) => { if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/user/avatar') seen.n++; });
    return seen;
  }

  /**
   * Chooses `file` (after a plain photo, so that what the page shows next is
   * about `file`) and waits until the page has taken it in: `shown` in the
   * crop tool, or not (`error`). Returns the message by the file input.
   */
  async function choose(page, file, expect = 'error') {
    await page.locator('#file').setInputFiles(path.join(FIXTURES, 'orient-1.jpg'));
    await page.waitForFunction(() => !document.getElementById('stage').hidden && document.getElementById('file-msg').textContent === '');
    const before = await page.evaluate(() => document.getElementById('preview').src);
    await page.locator('#file').setInputFiles(file);
    if (expect === 'error') {
      await page.waitForFunction(() => document.getElementById('stage').hidden && document.getElementById('file-msg').textContent !== '');
    } else {
      await page.waitForFunction((old) => {
        const i = document.getElementById('preview');
        return i.src !== old && i.complete && i.naturalWidth > 0 && !document.getElementById('stage').hidden;
      }, before);
    }
    return page.locator('#file-msg').textContent();
  }

  test('HEIC/HEIF in a browser that cannot show it (Chromium): told by its bytes, sent as it is, the service decodes it', async () => {
    const cases = [
      ['IMG_0001.jpg', 'image/jpeg', readFileSync(path.join(FIXTURES, 'heic.jpg')), 'tests/fixtures/heic.jpg: ftyp heic, named .jpg'],
      ...['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis'].map((b) => [`photo-${b}.png`, 'image/png', heifLike(b, ['mif1', b]), `major brand ${b}`]),
      ['IMG_0002.webp', 'image/webp', heifLike('mif1', ['mif1', 'miaf'], 'hvcC'), 'mif1 only, an hvcC (HEVC) property'],
      ['burst.gif', '', heifLike('msf1', ['msf1', 'iso8'], 'hvcC'), 'msf1 only, an hvcC (HEVC) property, no type'],
      ['other.jpg', 'image/jpeg', heifLike('mif1', ['mif1'], null), 'mif1, codec not found (HEIF)'],
    ];
    const langs = [
      ['en-US', /^This browser cannot show HEIC\/HEIF photos .*sent as it is.*centre/,
        (m) => assert.doesNotMatch(m, /[\u3000-\u9fff\uff00-\uffef]/, `English only: ${m}`)],
      ['zh-CN', /^此浏览器无法显示 HEIC\/HEIF 照片.*按原样上传.*中间的正方形/,
        (m) => assert.doesNotMatch(m.replace(/HEIC|HEIF|iPhone|AVIF|ICO|JPEG|PNG|WebP|GIF|BMP/g, ''), /[A-Za-z]/, `Chinese only (but names): ${m}`)],
    ];
    for (const [locale, wording, oneLanguage] of langs) {
      const { context, page, problems } = await open(locale);
      try {
        // The picker offers the formats the service takes, JPEG first (macOS
        // Safari converts a HEIC it is given to the first type listed), and
        // no HEIC type or image/*, with which the HEIC itself is handed over
        // (see the comment by the input).
        const accept = await page.locator('#file').getAttribute('accept');
        assert.match(accept, /^image\/jpeg,/);
        for (const t of ['image/png', 'image/webp', 'image/avif', 'image/gif', 'image/bmp', 'image/x-icon']) assert.ok(accept.split(',').includes(t), `${t} in accept="${accept}"`);
        assert.doesNotMatch(accept, /heic|heif|image\/\*/i);
        assert.match(await page.locator('#drop div').textContent(), /JPEG(, |、)PNG\1WebP\1AVIF\1GIF\1BMP\1ICO/);
        for (const [name, mimeType, buffer, label] of cases) {
          const msg = await choose(page, { name, mimeType, buffer });
          assert.match(msg, wording, `${locale}, ${label}`);
          oneLanguage(msg);
          assert.equal(await page.locator('#file-msg').getAttribute('class'), 'msg hint', label);
          assert.equal(await page.locator('#file').getAttribute('aria-invalid'), null, label);
          // Upload: the file goes as it is, without a crop box; these are
          // fakes, so the service refuses them, in the page's language.
          const r = await doUpload(page);
          assert.equal(filePart(r.sent).name, name, label);
          assert.ok(Object.values(cropFields(r.sent)).every((v) => v === undefined), `${label}: no crop box`);
          assert.equal(r.body.code, -1, `${label}: ${JSON.stringify(r.body)}`);
          const refusal = await page.locator('#upload-msg').textContent();
          assert.equal(refusal, r.body.msg, label);
          oneLanguage(refusal);
        }
        // A real HEIC photo: decoded by the service, the avatar shown.
        const heic = readFileSync(path.join(FIXTURES, 'phone', 'heic_8bit.heic'));
        assert.match(await choose(page, { name: 'IMG_0003.HEIC', mimeType: '', buffer: heic }), wording);
        const real = await doUpload(page);
        assert.equal(real.body.code, 0, JSON.stringify(real.body));
        await page.waitForFunction(() => !document.getElementById('avatar').hidden && document.getElementById('avatar').complete);
        await shot(page, `${locale}-heic`);
        // The same brands around AV1 are an AVIF, which the service takes:
        // not stopped (Chromium cannot show this junk one, so the usual
        // "cannot show" note, and Upload leaves it to the service).
        const uploads = countUploads(page);
        const msg = await choose(page, { name: 'x.heic', mimeType: 'image/heic', buffer: heifLike('mif1', ['mif1', 'miaf'], 'av1C') });
        assert.match(msg, locale === 'en-US' ? /^This file is not an image the browser can show; .*AVIF.*ICO\.$/ : /^浏览器无法显示.*AVIF.*ICO 图片。$/);
        assert.equal(uploads.n, 0, 'nothing was uploaded');
        const r = await doUpload(page);
        assert.equal(filePart(r.sent).type, 'image/heic', 'the AVIF went as it is');
        assert.equal(uploads.n, 1);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    }
  });

  test('a format this browser reads but the service may not take is sent as a JPEG (AVIF behind ?convert=avif): crop box, colour, scale to 16.7 MP', async () => {
    const { context, page, problems } = await open('en-US', { query: '?convert=avif' });
    try {
      // 1. A small Display P3 AVIF, named .png: shown in the crop tool, the
      //    frame moved onto the green quadrant; what goes is a JPEG of the
      //    same 96x64 upright pixels, in sRGB, with the frame's crop box.
      const small = await quadrantAvif(96, 64, { p3: true });
      const msg = await choose(page, { name: 'holiday.png', mimeType: 'image/png', buffer: small }, 'shown');
      assert.equal(msg, 'AVIF image: it will be sent as a JPEG.');
      const natural = () => page.evaluate(() => { const i = document.getElementById('preview'); return [i.naturalWidth, i.naturalHeight]; });
      assert.deepEqual(await natural(), [96, 64]);
      await page.locator('#frame').focus();
      for (let i = 0; i < 12; i++) await page.keyboard.press('-');
      for (let i = 0; i < 2; i++) await page.keyboard.press('Shift+ArrowRight');
      await page.keyboard.press('Shift+ArrowUp');
      for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowUp');
      const seenBox = await frameBox(page);
      let r = await doUpload(page);
      assert.equal(r.body.code, 0, JSON.stringify(r.body));
      let part = filePart(r.sent);
      assert.deepEqual([part.name, part.type], ['holiday.jpg', 'image/jpeg']);
      let info = jpegInfo(part.bytes);
      assert.deepEqual([info.width, info.height], [96, 64], 'natural size when under the canvas limit');
      // Drawn in sRGB: Chromium tags its canvas JPEGs with the canvas's
      // profile, here sRGB's primaries (a display-p3 canvas gives P3's).
      const red = iccRedPrimary(part.bytes);
      assert.ok(!red || (Math.abs(red[0] - 0.4361) < 0.005 && Math.abs(red[1] - 0.2225) < 0.005), `the JPEG's profile is not sRGB: red primary XYZ ${red}`);
      let f = cropFields(r.sent);
      // As shown (the page shows the size rounded, and sends it whole pixels down).
      assert.ok(f.crop_x === seenBox.x && f.crop_y === seenBox.y && f.crop_w === f.crop_h && Math.abs(f.crop_w - seenBox.s) <= 1,
        `crop box ${JSON.stringify(f)} should be the frame ${JSON.stringify(seenBox)}`);
      expectBoxInside(f, [48, 0, 96, 32], 'green quadrant');
      // The P3 colours, converted: sRGB red, green, blue, white again.
      let sentImg = await decodeRGBA(part.bytes);
      for (const [rgb, [x, y], label] of [[RED, [4, 4], 'red'], [GREEN, [52, 4], 'green'], [BLUE, [4, 36], 'blue'], [WHITE, [52, 36], 'white']]) {
        expectColour(sentImg, [x, y, x + 40, y + 24], rgb, `the JPEG sent, ${label} quadrant`, 14);
      }
      let shown = await shownAvatar(page);
      assert.equal(shown.src, r.body.data.avatar_url);
      expectSolid(shown.img, GREEN, 'avatar in the page');
      await shot(page, 'en-convert-small');

      // 2. 4800x3600 = 17.3 MP, over the canvas limit: the JPEG is scaled
      //    to fit 16,777,216 pixels, and the crop box with it.
      const W = 4800, H = 3600, LIMIT = 4096 * 4096;
      const big = await quadrantAvif(W, H);
      assert.equal(await choose(page, { name: 'big.avif', mimeType: 'image/avif', buffer: big }, 'shown'), 'AVIF image: it will be sent as a JPEG.');
      assert.deepEqual(await natural(), [W, H]);
      await page.locator('#zoom').fill('40');
      await page.locator('#frame').focus();
      for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+ArrowLeft');
      for (let i = 0; i < 3; i++) await page.keyboard.press('Shift+ArrowDown');
      const bigBox = await frameBox(page);
      r = await doUpload(page);
      assert.equal(r.body.code, 0, JSON.stringify(r.body));
      part = filePart(r.sent);
      assert.deepEqual([part.name, part.type], ['big.jpg', 'image/jpeg']);
      info = jpegInfo(part.bytes);
      const k = Math.sqrt(LIMIT / (W * H));
      assert.ok(info.width * info.height <= LIMIT, `${info.width}x${info.height} is over ${LIMIT} pixels`);
      assert.ok(Math.abs(info.width - W * k) <= 1 && Math.abs(info.height - H * k) <= 1,
        `scaled to ${info.width}x${info.height}, expected about ${(W * k).toFixed(1)}x${(H * k).toFixed(1)}`);
      f = cropFields(r.sent);
      const [sx, sy] = [info.width / W, info.height / H];
      const want = { crop_x: bigBox.x * sx, crop_y: bigBox.y * sy, crop_w: bigBox.s * Math.min(sx, sy), crop_h: bigBox.s * Math.min(sx, sy) };
      assert.ok(Object.keys(want).every((key) => Math.abs(f[key] - want[key]) <= 1.5) && f.crop_w === f.crop_h,
        `crop box ${JSON.stringify(f)} should be the frame ${JSON.stringify(bigBox)} scaled: ${JSON.stringify(want)}`);
      expectBoxInside(f, [0, Math.ceil(info.height / 2), Math.floor(info.width / 2), info.height], 'blue quadrant of the JPEG sent');
      sentImg = await decodeRGBA(part.bytes);
      expectColour(sentImg, [f.crop_x, f.crop_y, f.crop_x + f.crop_w, f.crop_y + f.crop_h], BLUE, 'the crop box of the JPEG sent');
      expectColour(sentImg, [0, 0, 200, 200], RED, 'top left of the JPEG sent');
      expectColour(sentImg, [info.width - 200, info.height - 200, info.width, info.height], WHITE, 'bottom right of the JPEG sent');
      // The whole photo scaled, not its top left corner: the quadrants meet
      // at the JPEG's middle (the photo's 2400, 1800 would be 35 and 26 px further).
      const [cx, cy] = [Math.round(info.width / 2), Math.round(info.height / 2)];
      expectColour(sentImg, [cx + 8, 100, cx + 24, 300], GREEN, 'just right of the middle, top');
      expectColour(sentImg, [100, cy + 8, 300, cy + 24], BLUE, 'just below the middle, left');
      shown = await shownAvatar(page);
      assert.equal(shown.src, r.body.data.avatar_url);
      expectSolid(shown.img, BLUE, 'avatar in the page');

      // 3. Without the switch, an AVIF is one the service takes: sent as it is.
      await page.goto(w.url.href);
      assert.equal(await choose(page, { name: 'holiday.avif', mimeType: 'image/avif', buffer: small }, 'shown'), '');
      r = await doUpload(page);
      part = filePart(r.sent);
      assert.deepEqual([part.name, part.type, Buffer.compare(part.bytes, small)], ['holiday.avif', 'image/avif', 0]);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
