#!/usr/bin/env node
// Write-back format: in origin mode the Worker sends its processed avatar to
// the AnqiCMS site's own POST /api/user/avatar, and the site re-encodes it
// (docs/anqicms.md, "Write-back format"). Which form should the Worker send
// so that what the site stores looks like the Worker's avatar?
//
// For each photo and each AVATAR_SIZE (128, 256, 512):
//   ours       = sharp: upright, centre cover crop, lanczos3 to SIZE, WebP q85,
//                decoded (the avatar the Worker serves);
//   candidates = what the Worker could send, made from `ours`:
//                png       lossless PNG of the decoded avatar
//                jpeg95    JPEG q95 4:2:0      jpeg95-444  JPEG q95 4:4:4
//                jpeg100   JPEG q100 4:4:4     webp        our WebP bytes as they are
//   stored     = the stand-in's processAvatar (exactly what its POST
//                /api/user/avatar runs) on the candidate, for three site
//                set-ups: plain (no cwebp, no pngquant, quality 90), cwebp
//                (the cwebp AnqiCMS bundles was found), pngquant (ImageMagick
//                and pngquant installed);
//   score      = SSIM (bench/lib/quality.mjs: luma, 11×11 Gaussian) of the
//                stored 256² against `ours` (SIZE 256); for SIZE ≠ 256
//                against `ours` resized to 256 by the site's own resize
//                (imaging Lanczos as in the stand-in: what the site could at
//                best keep of it) and against ours@256 (how it compares with
//                a 256 avatar made from the photo).
//
//   node bench/writeback-quality.mjs [--json out.json] [--quick]
//
// Photos: bench/fixtures (npm run bench or node bench/make-fixtures.mjs makes
// them) when present, and the photographic tests/fixtures.
import sharp from 'sharp';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAvatar, imagingThumbnail } from '../tests/lib/anqicms-standin.mjs';
import { ssim, outputLuma } from './lib/quality.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : path.join(here, 'out', 'writeback-quality.json');

const PHOTOS = [
  ['bench/fixtures/jpeg-2mp.jpg', '2 MP JPEG (astronaut)'],
  ['bench/fixtures/jpeg-12mp.jpg', '12 MP JPEG (cat)'],
  ['bench/fixtures/jpeg-12mp-progressive.jpg', '12 MP JPEG (motorcycle)'],
  ['bench/fixtures/jpeg-12mp-exif6.jpg', '12 MP JPEG EXIF 6 (rocket)'],
  ['bench/fixtures/png-1mp.png', '1 MP PNG (astronaut)'],
  ['bench/fixtures/webp-12mp.webp', '12 MP WebP (Hubble)'],
  ['bench/fixtures/png-alpha.png', '1 MP PNG with alpha (coffee)'],
  ['tests/fixtures/jpeg_baseline.jpg', '360×239 JPEG'],
  ['tests/fixtures/png_rgb8.png', '150×100 PNG'],
].filter(([p]) => existsSync(path.join(root, p)));
const SIZES = quick ? [256] : [128, 256, 512];
const EDGE = 256;
const SITES = {
  plain: { quality: 90 },
  cwebp: { quality: 90, cwebp: true },
  pngquant: { quality: 90, pngquant: true },
};

const CANDIDATES = {
  png: (s) => s.png({ compressionLevel: 9, adaptiveFiltering: true }),
  jpeg95: (s) => s.jpeg({ quality: 95, chromaSubsampling: '4:2:0', mozjpeg: false }),
  'jpeg95-444': (s) => s.jpeg({ quality: 95, chromaSubsampling: '4:4:4', mozjpeg: false }),
  'jpeg100': (s) => s.jpeg({ quality: 100, chromaSubsampling: '4:4:4', mozjpeg: false }),
  webp: null, // our own WebP bytes, unchanged
};

const rawOf = async (s) => s.ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  .then(({ data, info }) => ({ data, width: info.width, height: info.height }));
const fromRaw = (img) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } });
/** Luma plane of a raw RGBA image (alpha flattened on grey, as outputLuma does). */
const lumaOfRaw = async (img) => (await outputLuma(await fromRaw(img).png().toBuffer())).luma;

/** Our avatar at `size`: the WebP bytes and their decode. */
async function ours(src, size) {
  const webp = await sharp(src, { failOn: 'none' }).rotate()
    .resize(size, size, { fit: 'cover', kernel: 'lanczos3' }).webp({ quality: 85 }).toBuffer();
  return { webp, img: await rawOf(sharp(webp)) };
}

const rows = [];
for (const [file, label] of PHOTOS) {
  const src = readFileSync(path.join(root, file));
  const at256 = await ours(src, EDGE);
  const ref256 = await lumaOfRaw(at256.img);
  for (const size of SIZES) {
    const o = size === EDGE ? at256 : await ours(src, size);
    // SIZE ≠ 256: the best the site can keep of ours is its own Lanczos
    // resize of our pixels (the stand-in's imaging.Thumbnail), so the loss
    // measured is the format's alone.
    const refSame = size === EDGE ? ref256 : await lumaOfRaw(imagingThumbnail(o.img, EDGE, EDGE));
    for (const [cand, make] of Object.entries(CANDIDATES)) {
      const sent = make ? await make(fromRaw(o.img)).toBuffer() : o.webp;
      for (const [site, opts] of Object.entries(SITES)) {
        // pngquant only changes PNG output; cwebp only WebP.
        if (site === 'pngquant' && !(cand === 'png')) continue;
        if (site === 'cwebp' && cand !== 'webp') continue;
        const stored = await processAvatar(sent, opts);
        const luma = (await outputLuma(stored.bytes)).luma;
        rows.push({
          photo: label, size, candidate: cand, site, sentBytes: sent.length, storedBytes: stored.bytes.length,
          storedAs: `.${stored.ext} (${stored.encodedAs})`,
          ssim: ssim(luma, refSame, EDGE, EDGE),
          ssimVs256: size === EDGE ? null : ssim(luma, ref256, EDGE, EDGE),
        });
      }
    }
    process.stderr.write(`[writeback] ${label} @${size} done\n`);
  }
}

mkdirSync(path.dirname(jsonOut), { recursive: true });
writeFileSync(jsonOut, JSON.stringify({ when: new Date().toISOString(), photos: PHOTOS.map((p) => p[1]), rows }, null, 1));

// ---- report: per size, per candidate/site: min / median SSIM, median bytes.
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const f3 = (x) => x.toFixed(4);
const lines = [];
// Transparency: JPEG cannot carry it, so the photo with alpha gets its own
// column and stays out of the opaque min / median.
const isAlpha = (r) => /alpha/i.test(r.photo);
const nOpaque = PHOTOS.filter(([, l]) => !/alpha/i.test(l)).length;
for (const size of SIZES) {
  lines.push('', `AVATAR_SIZE ${size}${size === EDGE ? '' : ` (the site resizes to ${EDGE})`}: ${nOpaque} opaque photos, min / median; the alpha photo on its own`, '');
  lines.push(size === EDGE
    ? '| sent | site | stored as | SSIM vs ours | alpha photo | sent (median) | stored (median) |'
    : '| sent | site | stored as | SSIM vs ours→256 | alpha photo | SSIM vs ours@256 | sent (median) | stored (median) |');
  lines.push(size === EDGE ? '| --- | --- | --- | ---: | ---: | ---: | ---: |' : '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  const groups = new Map();
  for (const r of rows.filter((x) => x.size === size)) {
    const k = `${r.candidate}|${r.site}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  for (const [k, rs] of groups) {
    const [cand, site] = k.split('|');
    const op = rs.filter((r) => !isAlpha(r));
    const al = rs.find(isAlpha);
    const as = [...new Set(rs.map((r) => r.storedAs))].join(', ');
    const mm = (xs) => `${f3(Math.min(...xs))} / ${f3(median(xs))}`;
    const cells = [mm(op.map((r) => r.ssim)), al ? f3(al.ssim) : '–'];
    if (size !== EDGE) cells.push(mm(op.map((r) => r.ssimVs256)));
    lines.push(`| ${cand} | ${site} | ${as} | ${cells.join(' | ')} | ${kib(median(op.map((r) => r.sentBytes)))} | ${kib(median(op.map((r) => r.storedBytes)))} |`);
  }
}
lines.push('', 'Per photo, AVATAR_SIZE 256 (SSIM of the stored avatar vs ours):', '');
const cols = [...new Set(rows.filter((r) => r.size === EDGE).map((r) => `${r.candidate}|${r.site}`))];
lines.push(`| photo | ${cols.map((c) => c.replace('|', ' → ')).join(' | ')} |`);
lines.push(`| --- | ${cols.map(() => '---:').join(' | ')} |`);
for (const [, label] of PHOTOS) {
  const cells = cols.map((c) => {
    const r = rows.find((x) => x.size === EDGE && x.photo === label && `${x.candidate}|${x.site}` === c);
    return r ? f3(r.ssim) : '';
  });
  lines.push(`| ${label} | ${cells.join(' | ')} |`);
}
console.log(lines.join('\n'));
console.error(`[writeback] rows in ${path.relative(root, jsonOut)}`);
