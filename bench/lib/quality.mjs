// Quality: SSIM of a 256² output against two reference crops of the source.
//
// Both references are made here, in JS, from sharp's full-resolution decode
// of the source (auto-oriented, 8-bit sRGB, no shrink-on-load): the exact
// centre square, resized to 256² with a true Lanczos3 (support 3 × the
// reduction factor, every source pixel weighted; taps outside the image are
// dropped and the rest renormalised), kept as floats (no lossy step):
//
//   srgb    the convolution runs on the gamma-encoded sRGB code values, as
//           libvips/sharp (and most resizers) do by default;
//   linear  the convolution runs in linear light: code values go through the
//           exact sRGB transfer function (IEC 61966-2-1: linear segment below
//           0.04045, 2.4 power above), are averaged, and go back through its
//           exact inverse. Averaging light is what a lens or a coarser sensor
//           would do; averaging encoded values darkens fine bright/dark
//           detail (Eric Brasseur, "Gamma error in picture scaling").
//
// Each reference favours the resizers that work its way: one in encoded
// space (sharp) scores best against `srgb`, one in linear light (ours,
// jSquash) against `linear`. The report shows both, so neither method is
// favoured by construction (the earlier single reference was sharp's own
// lanczos3 resize).
//
// Why not sharp's `.gamma(2.2)` for the linear one: it is a pure 2.2 power,
// not the sRGB curve, and libvips keeps the gamma-reduced image in 8 bits for
// an 8-bit input, which crushes the shadows (input code values 0–31 end up
// on 3 levels with sharp 0.34) before the resize even starts. Doing it in JS
// also gives both references the very same kernel and geometry, so they
// differ in the resize space and nothing else.
//
// Alignment. A contestant's crop window can sit up to half an output pixel
// away from the exact centre square for a reason that has nothing to do with
// quality: sharp's `fit: 'cover'` resizes the whole image first and then
// extracts a whole number of *output* pixels (4032×3024 → 341×256, whose
// centred 256 columns start at 42.5: it takes 43), which puts its window
// ½ px right of the centre whenever the resized long side minus 256 is odd.
// The workers crop whole source pixels (centre ± ½ source px). SSIM punishes
// a ½ px shift of grainy detail hard (≈ 0.92 instead of ≈ 0.97, more than any
// resize method), so for non-square sources each output is scored against
// the window at the centre and at ±½ output pixel along the long side, and
// the best-matching window (the same one for both references) is kept and
// reported as `shift`.
//
// Scoring: every output, sharp's WebP included, is decoded by sharp, alpha
// flattened onto mid-grey (the references are flattened the same way, in
// sRGB), and compared on luma (BT.601) with the usual 11×11 Gaussian window
// (σ 1.5), K1 0.01, K2 0.03, averaged over the valid area.
import sharp from 'sharp';

export const SIZE = 256;
/** Candidate windows: offset of the crop along the long side, output px. */
export const SHIFTS = [-0.5, 0, 0.5];
const GREY = { r: 128, g: 128, b: 128 };

// Code value → sample in the convolution's space (0..1).
const TO_LINEAR = Float32Array.from({ length: 256 }, (_, i) => {
  const c = i / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});
const TO_ENCODED = Float32Array.from({ length: 256 }, (_, i) => i / 255);
/** Back to an sRGB code value (float, 0..255). */
const FROM_LINEAR = (l) => 255 * (l <= 0.0031308 ? 12.92 * l : 1.055 * l ** (1 / 2.4) - 0.055);
const FROM_ENCODED = (v) => 255 * v;
const clamp01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Luma plane (Float64Array) of raw RGB pixels. */
function luma(rgb, n) {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2];
  return y;
}

const lanczos3 = (t) => {
  t = Math.abs(t);
  if (t < 1e-12) return 1;
  if (t >= 3) return 0;
  const p = Math.PI * t;
  return (3 * Math.sin(p) * Math.sin(p / 3)) / (p * p);
};

/**
 * Lanczos3 weights from [start, start+len) of a line of `limit` pixels onto
 * `n` pixels (pixel i covers [i, i+1), centre i+½): [{lo, w}] per output.
 */
export function weights(n, start, len, limit) {
  const s = len / n, scale = Math.max(1, s), support = 3 * scale;
  const out = [];
  for (let i = 0; i < n; i++) {
    const c = start + (i + 0.5) * s;
    const lo = Math.max(0, Math.ceil(c - support - 0.5)), hi = Math.min(limit - 1, Math.floor(c + support - 0.5));
    const w = new Float64Array(Math.max(0, hi - lo + 1));
    let sum = 0;
    for (let j = lo; j <= hi; j++) sum += (w[j - lo] = lanczos3((j + 0.5 - c) / scale));
    for (let k = 0; k < w.length; k++) w[k] /= sum;
    out.push({ lo, w });
  }
  return out;
}

/** sharp's full-resolution decode, upright, 8-bit sRGB: {data, w, h, ch}. */
async function decodeSource(srcBuf) {
  const { data, info } = await sharp(srcBuf, { failOn: 'none' }).rotate().toColourspace('srgb')
    .raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, w: info.width, h: info.height, ch: info.channels };
}

/** Swaps x and y (so that the long side is always x). */
function transpose({ data, w, h, ch }) {
  const t = Buffer.alloc(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * ch, d = (x * h + y) * ch;
      for (let c = 0; c < ch; c++) t[d + c] = data[s + c];
    }
  }
  return { data: t, w: h, h: w, ch };
}

/**
 * The references of one decoded (landscape or square) image in one space:
 * one flattened luma plane per shift in `shifts`.
 */
function referencePlanes(img, space, shifts) {
  const { data, w, h, ch } = img;
  const toSpace = space === 'linear' ? TO_LINEAR : TO_ENCODED;
  const fromSpace = space === 'linear' ? FROM_LINEAR : FROM_ENCODED;
  const alpha = ch === 4;
  const side = Math.min(w, h), s = side / SIZE;
  const x0 = (w - side) / 2, y0 = (h - side) / 2;

  // Pass 1, along y (the short side: the same for every shift), over every
  // column any shifted window can reach.
  const margin = 3 * Math.max(1, s) + Math.max(...shifts.map(Math.abs)) * s + 1;
  const xlo = Math.max(0, Math.floor(x0 - margin)), xhi = Math.min(w, Math.ceil(x0 + side + margin));
  const bw = xhi - xlo, stride = bw * ch;
  const wy = weights(SIZE, y0, side, h);
  // For each source row: the output rows it feeds and with which weight.
  const feeds = new Map();
  wy.forEach(({ lo, w: ws }, j) => ws.forEach((v, k) => {
    if (!feeds.has(lo + k)) feeds.set(lo + k, []);
    feeds.get(lo + k).push(j, v);
  }));
  const tmp = new Float32Array(SIZE * stride);
  const row = new Float32Array(stride);
  for (const [y, list] of feeds) {
    // Source row in the convolution's space, colour premultiplied by alpha.
    let p = (y * w + xlo) * ch;
    for (let i = 0; i < stride; i += ch, p += ch) {
      const a = alpha ? data[p + 3] / 255 : 1;
      for (let c = 0; c < 3; c++) row[i + c] = toSpace[data[p + c]] * a;
      if (alpha) row[i + 3] = a;
    }
    for (let k = 0; k < list.length; k += 2) {
      const off = list[k] * stride, v = list[k + 1];
      for (let i = 0; i < stride; i++) tmp[off + i] += v * row[i];
    }
  }

  // Pass 2, along x, per shift; then un-premultiply, back to sRGB code
  // values, flatten onto grey as the outputs are, luma.
  return shifts.map((shift) => {
    const wx = weights(SIZE, x0 + shift * s - xlo, side, bw);
    const rgb = new Float64Array(SIZE * SIZE * 3);
    const px = new Float64Array(ch);
    for (let j = 0; j < SIZE; j++) {
      for (let i = 0; i < SIZE; i++) {
        const { lo, w: ws } = wx[i];
        px.fill(0);
        for (let k = 0; k < ws.length; k++) {
          const q = j * stride + (lo + k) * ch;
          for (let c = 0; c < ch; c++) px[c] += ws[k] * tmp[q + c];
        }
        const a = alpha ? clamp01(px[3]) : 1;
        const o = (j * SIZE + i) * 3;
        for (let c = 0; c < 3; c++) {
          const v = a > 0 ? fromSpace(clamp01(px[c] / a)) : 0;
          rgb[o + c] = v * a + 128 * (1 - a);
        }
      }
    }
    return luma(rgb, SIZE * SIZE);
  });
}

/**
 * The references for a source file: {srgb: [plane per shift], linear:
 * [plane per shift], shifts}. A square source has only the centre window.
 */
export async function references(srcBuf) {
  let img = await decodeSource(srcBuf);
  const portrait = img.h > img.w;
  if (portrait) img = transpose(img);
  const shifts = img.w === img.h ? [0] : SHIFTS;
  const back = (plane) => {
    if (!portrait) return plane;
    const t = new Float64Array(plane.length);
    for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) t[x * SIZE + y] = plane[y * SIZE + x];
    return t;
  };
  return {
    shifts,
    srgb: referencePlanes(img, 'srgb', shifts).map(back),
    linear: referencePlanes(img, 'linear', shifts).map(back),
  };
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
 * Scores an output against the references: {ssim (vs srgb), ssimLinear (vs
 * linear), shift, byShift, width, height, format}, or {ssim: null, note} when
 * it cannot be compared (not decodable, not 256²).
 */
export async function score(outBuf, refs) {
  let out;
  try { out = await outputLuma(outBuf); } catch (e) { return { ssim: null, ssimLinear: null, note: `undecodable output: ${e.message}` }; }
  if (out.width !== SIZE || out.height !== SIZE) {
    return { ssim: null, ssimLinear: null, width: out.width, height: out.height, format: out.format, note: `output is ${out.width}×${out.height}, not ${SIZE}²` };
  }
  const srgb = refs.srgb.map((r) => ssim(out.luma, r));
  const linear = refs.linear.map((r) => ssim(out.luma, r));
  let best = 0;
  for (let i = 1; i < refs.shifts.length; i++) if (srgb[i] + linear[i] > srgb[best] + linear[best]) best = i;
  return {
    ssim: srgb[best], ssimLinear: linear[best], shift: refs.shifts[best],
    byShift: refs.shifts.map((shift, i) => ({ shift, srgb: srgb[i], linear: linear[i] })),
    width: out.width, height: out.height, format: out.format,
  };
}
