// Image inspection for the tests: container/header parsing written here
// (no decoder needed) and pixel access through sharp (libvips).
import sharp from 'sharp';

/** Lists the chunks of a RIFF/WebP file and reads its dimensions. */
export function webpInfo(buf) {
  if (buf.length < 20 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WEBP') {
    throw new Error('not a RIFF/WEBP file');
  }
  const riffSize = buf.readUInt32LE(4);
  const chunks = [];
  let width, height, alpha = false, lossy = false, lossless = false;
  let off = 12;
  while (off + 8 <= buf.length) {
    const tag = buf.toString('latin1', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = buf.subarray(off + 8, off + 8 + size);
    chunks.push({ tag, size });
    if (tag === 'VP8X') {
      alpha ||= (body[0] & 0x10) !== 0;
      width = 1 + body.readUIntLE(4, 3);
      height = 1 + body.readUIntLE(7, 3);
    } else if (tag === 'VP8 ') {
      lossy = true;
      if (body[3] !== 0x9d || body[4] !== 0x01 || body[5] !== 0x2a) throw new Error('bad VP8 start code');
      width ??= body.readUInt16LE(6) & 0x3fff;
      height ??= body.readUInt16LE(8) & 0x3fff;
    } else if (tag === 'VP8L') {
      lossless = true;
      if (body[0] !== 0x2f) throw new Error('bad VP8L signature');
      const bits = body.readUInt32LE(1);
      width ??= (bits & 0x3fff) + 1;
      height ??= ((bits >> 14) & 0x3fff) + 1;
      alpha ||= ((bits >> 28) & 1) === 1;
    } else if (tag === 'ALPH') {
      alpha = true;
    }
    off += 8 + size + (size & 1);
  }
  return { format: 'webp', width, height, alpha, lossy, lossless, chunks, riffSize, consistent: riffSize + 8 === buf.length };
}

/** Lists PNG chunks and reads IHDR. */
export function pngInfo(buf) {
  if (buf.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') throw new Error('not a PNG');
  const chunks = [];
  let off = 8;
  let ihdr;
  while (off + 8 <= buf.length) {
    const size = buf.readUInt32BE(off);
    const tag = buf.toString('latin1', off + 4, off + 8);
    chunks.push({ tag, size });
    if (tag === 'IHDR') {
      ihdr = {
        width: buf.readUInt32BE(off + 8),
        height: buf.readUInt32BE(off + 12),
        bitDepth: buf[off + 16],
        colorType: buf[off + 17],
        interlace: buf[off + 20],
      };
    }
    off += 12 + size;
    if (tag === 'IEND') break;
  }
  return { format: 'png', ...ihdr, alpha: ihdr.colorType === 4 || ihdr.colorType === 6 || chunks.some((c) => c.tag === 'tRNS'), chunks };
}

/** Lists JPEG markers and reads the frame size. */
export function jpegInfo(buf) {
  if (buf[0] !== 0xff || buf[1] !== 0xd8) throw new Error('not a JPEG');
  const markers = [];
  let off = 2, width, height, components;
  while (off + 4 <= buf.length) {
    if (buf[off] !== 0xff) throw new Error(`bad marker at ${off}`);
    const m = buf[off + 1];
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) { off += 2; continue; }
    const len = buf.readUInt16BE(off + 2);
    const app = m >= 0xe0 && m <= 0xef ? buf.toString('latin1', off + 4, off + 4 + Math.min(12, len - 2)) : '';
    markers.push({ marker: m, len, app });
    if ((m >= 0xc0 && m <= 0xcf) && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      height = buf.readUInt16BE(off + 5);
      width = buf.readUInt16BE(off + 7);
      components = buf[off + 9];
    }
    if (m === 0xda) break; // entropy-coded data follows
    off += 2 + len;
  }
  return { format: 'jpeg', width, height, components, markers, alpha: false };
}

/** Detects the container by magic bytes and returns its info. */
export function imageInfo(buf) {
  if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return webpInfo(buf);
  if (buf.length >= 8 && buf[0] === 0x89 && buf.toString('latin1', 1, 4) === 'PNG') return pngInfo(buf);
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return jpegInfo(buf);
  throw new Error(`unknown image container: ${buf.subarray(0, 16).toString('hex')}`);
}

export const EXT_FOR = { webp: 'webp', png: 'png', jpeg: 'jpg' };
export const MIME_FOR = { webp: 'image/webp', png: 'image/png', jpeg: 'image/jpeg' };

/** Decodes to RGBA 8-bit: { data, width, height, channels: 4 }. */
export async function decodeRGBA(buf) {
  const { data, info } = await sharp(buf, { failOn: 'error' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Mean RGBA of the box [x0, x1) x [y0, y1). */
export function regionMean(img, x0, y0, x1, y1) {
  const sum = [0, 0, 0, 0];
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * img.channels;
      for (let c = 0; c < 4; c++) sum[c] += img.data[i + c];
      n++;
    }
  }
  return sum.map((s) => s / n);
}

/** Largest per-channel distance of any pixel in the box from `rgb`. */
export function regionMaxDiff(img, x0, y0, x1, y1, rgb) {
  let worst = 0, at = null;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * img.channels;
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(img.data[i + c] - rgb[c]);
        if (d > worst) { worst = d; at = [x, y, [...img.data.subarray(i, i + 4)]]; }
      }
    }
  }
  return { worst, at };
}

/** n x n grid of mean RGB over the whole image. */
export function gridMeans(img, n = 4) {
  const rows = [];
  for (let gy = 0; gy < n; gy++) {
    const row = [];
    for (let gx = 0; gx < n; gx++) {
      const m = regionMean(img, Math.floor((gx * img.width) / n), Math.floor((gy * img.height) / n),
        Math.floor(((gx + 1) * img.width) / n), Math.floor(((gy + 1) * img.height) / n));
      row.push(m.slice(0, 3));
    }
    rows.push(row);
  }
  return rows;
}

/** Largest channel difference between two grids, and where. */
export function gridDiff(a, b) {
  let worst = 0, at = null;
  for (let y = 0; y < a.length; y++) {
    for (let x = 0; x < a[y].length; x++) {
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(a[y][x][c] - b[y][x][c]);
        if (d > worst) { worst = d; at = { x, y, got: a[y][x].map(Math.round), want: b[y][x] }; }
      }
    }
  }
  return { worst, at };
}

export const fmtGrid = (g) => g.map((r) => r.map((c) => `(${c.map((v) => Math.round(v)).join(',')})`).join(' ')).join('\n');

/** True when `needle` (string) occurs in the bytes. */
export const containsBytes = (buf, needle) => buf.indexOf(Buffer.from(needle, 'latin1')) !== -1;
