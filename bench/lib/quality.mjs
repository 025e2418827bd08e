// Quality: SSIM of a 256² output against a reference made by sharp.
//
// Reference = the source, auto-oriented, centre-cropped and resized to 256²
// by sharp with lanczos3 and *without* JPEG shrink-on-load, kept as raw
// pixels (no lossy encoding). Every contestant's output, sharp's own WebP
// included, is decoded by sharp and compared with it, so the figures are
// comparable across contestants. Alpha is flattened onto mid-grey on both
// sides first. SSIM is computed on luma (BT.601) with the usual 11×11
// Gaussian window (σ 1.5), K1 0.01, K2 0.03, averaged over the valid area.
import sharp from 'sharp';

export const SIZE = 256;
const GREY = { r: 128, g: 128, b: 128 };

/** Luma plane (Float64Array) of raw RGB pixels. */
function luma(rgb, n) {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2];
  return y;
}

/** The reference crop for a source file, as a luma plane. */
export async function referenceLuma(srcBuf) {
  const { data, info } = await sharp(srcBuf, { failOn: 'none' }).rotate()
    .resize(SIZE, SIZE, { fit: 'cover', position: 'centre', kernel: 'lanczos3', fastShrinkOnLoad: false })
    .flatten({ background: GREY }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return luma(data, info.width * info.height);
}

/**
 * Decodes an output image with sharp: {luma, width, height, format} or
 * throws when sharp cannot read it.
 */
export async function outputLuma(buf) {
  const meta = await sharp(buf).metadata();
  const { data, info } = await sharp(buf).flatten({ background: GREY }).removeAlpha().raw()
    .toBuffer({ resolveWithObject: true });
  return { luma: luma(data, info.width * info.height), width: info.width, height: info.height, format: meta.format };
}

/** Separable Gaussian blur, 'valid' region only: (w-10)×(h-10). */
function blur(src, w, h, kernel) {
  const r = (kernel.length - 1) / 2;
  const tmp = new Float64Array((w - 2 * r) * h);
  const tw = w - 2 * r;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < tw; x++) {
      let s = 0;
      for (let k = 0; k < kernel.length; k++) s += kernel[k] * src[y * w + x + k];
      tmp[y * tw + x] = s;
    }
  }
  const th = h - 2 * r;
  const out = new Float64Array(tw * th);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      let s = 0;
      for (let k = 0; k < kernel.length; k++) s += kernel[k] * tmp[(y + k) * tw + x];
      out[y * tw + x] = s;
    }
  }
  return out;
}

const KERNEL = (() => {
  const k = [];
  for (let i = -5; i <= 5; i++) k.push(Math.exp(-(i * i) / (2 * 1.5 * 1.5)));
  const sum = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / sum);
})();

/** Mean SSIM of two same-size luma planes. */
export function ssim(a, b, w = SIZE, h = SIZE) {
  const n = w * h;
  const aa = new Float64Array(n), bb = new Float64Array(n), ab = new Float64Array(n);
  for (let i = 0; i < n; i++) { aa[i] = a[i] * a[i]; bb[i] = b[i] * b[i]; ab[i] = a[i] * b[i]; }
  const [ma, mb, saa, sbb, sab] = [a, b, aa, bb, ab].map((p) => blur(p, w, h, KERNEL));
  const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2;
  let total = 0;
  for (let i = 0; i < ma.length; i++) {
    const va = saa[i] - ma[i] * ma[i], vb = sbb[i] - mb[i] * mb[i], cov = sab[i] - ma[i] * mb[i];
    total += ((2 * ma[i] * mb[i] + C1) * (2 * cov + C2)) / ((ma[i] * ma[i] + mb[i] * mb[i] + C1) * (va + vb + C2));
  }
  return total / ma.length;
}

/**
 * Scores an output against the reference: {ssim, width, height, format}, or
 * {ssim: null, note} when it cannot be compared (not decodable, not 256²).
 */
export async function score(outBuf, refLuma) {
  let out;
  try { out = await outputLuma(outBuf); } catch (e) { return { ssim: null, note: `undecodable output: ${e.message}` }; }
  if (out.width !== SIZE || out.height !== SIZE) {
    return { ssim: null, width: out.width, height: out.height, format: out.format, note: `output is ${out.width}×${out.height}, not ${SIZE}²` };
  }
  return { ssim: ssim(out.luma, refLuma), width: out.width, height: out.height, format: out.format };
}
