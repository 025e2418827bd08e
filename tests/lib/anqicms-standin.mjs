// A stand-in for a live AnqiCMS site, for the origin-mode tests: a real HTTP
// server on 127.0.0.1 that answers the member API the way AnqiCMS 3.5.8
// does (docs/anqicms.md has the facts and where they come from in AnqiCMS's
// source; nothing here is AnqiCMS code, it is written from that behaviour).
//
//   const site = await start({ users: [{ id: 1, user_name: 'alice' }] });
//   const token = site.mintToken(1);              // as the site's login issues
//   await fetch(`${site.url}/api/user/detail`, { headers: { token } });
//   site.setDown(true); site.failAvatarPosts(2, 'http500'); ...
//   await site.close();
//
// Routes:
//   GET  /api/user/detail   the member's profile ({code:0,msg:null,data:user})
//   POST /api/user/detail   AnqiCMS's profile edit (avatar_url is ignored)
//   POST /api/user/avatar   multipart `file`: decode, centre crop, Lanczos to
//                           256², re-encode per source format, store at
//                           uploads/user/{id}.{ext}, avatar_url = that key
//   GET  /logout            clears the cookie only (the token stays valid)
//   GET/HEAD /uploads/...   the stored files, Content-Type by extension
//
// The image path is exported on its own (processAvatar) so the write-back
// measurement (bench/writeback-quality.mjs) runs exactly what the server runs.
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import sharp from 'sharp';

// ------------------------------------------------------------ constants

/** The stand-in's default TOKEN_SECRET (AnqiCMS generates 32 random chars). */
export const STANDIN_SECRET = 'standin-site-secret-0123456789ab';
/** AnqiCMS's content setting "quality" when unset (config.DefaultQuality). */
export const DEFAULT_QUALITY = 90;
/** Edge of the stored avatar: fixed in UploadUserAvatar, not a setting. */
export const AVATAR_EDGE = 256;
/** A login token: 24 h + 29 days (GetUserAuthToken with remember = true). */
export const LOGIN_TOKEN_SECONDS = 24 * 3600 + 29 * 86400;
/** A renewed token (update-token): 24 h (remember = false). */
export const RENEWED_TOKEN_SECONDS = 24 * 3600;
/** update-token is sent when the token expires within this many seconds. */
export const RENEW_WINDOW_SECONDS = 3600;

const MESSAGES = {
  zh: {
    needLogin: '该操作需要登录，请登录后重试',
    uploaded: '文件已上传完成',
    saveFailed: '文件保存失败',
    saved: '保存成功',
    loggedOut: '已退出登录',
    nameTaken: '该用户名已被注册',
  },
  en: {
    needLogin: 'This operation requires login, please log in and try again',
    uploaded: 'File upload completed',
    saveFailed: 'File save failed',
    saved: 'Save successfully',
    loggedOut: 'Logged out',
    nameTaken: 'The username has been registered',
  },
};
// Go's net/http error texts that AnqiCMS passes through as msg.
const ERR_MISSING_FILE = 'http: no such file';
const ERR_NOT_MULTIPART = "request Content-Type isn't multipart/form-data";

const nowSec = () => Math.floor(Date.now() / 1000);

// ------------------------------------------------------------ tokens

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const HMAC_HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/**
 * Signs a member token as AnqiCMS does: HS256 over the key
 * `${secret}-user-token`; Go marshals both maps with sorted keys, so the
 * header is {"alg":"HS256","typ":"JWT"} and the claims {"t":"<exp>","userId":"<id>"},
 * both values decimal strings; base64url without padding.
 */
export function signUserToken(secret, userId, expUnix) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify({ t: String(expUnix), userId: String(userId) }));
  const sig = createHmac('sha256', `${secret}-user-token`).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${sig}`;
}

const GO_INT = /^[+-]?\d+$/;
/** Go's strconv.ParseInt/Atoi: decimal with an optional sign, else 0 (AnqiCMS ignores the error). */
const goInt = (s) => (GO_INT.test(s) ? Number(s) : 0);

/**
 * Judges a token the way AnqiCMS's ParseUserToken middleware does
 * (golang-jwt v5 `jwt.Parse` + its own claim checks). Returns
 *   { ok: true, userId: '<claim string>', id: <number>, t: <number> }   signature and claims fine, not expired
 *   { ok: false, reason }                                                anything else
 * `id` is what the user is looked up by (Atoi of the claim); whether the
 * user exists is the caller's business.
 */
export function verifyUserToken(secret, token, now = nowSec()) {
  if (typeof token !== 'string' || token === '') return { ok: false, reason: 'no token' };
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'not a JWT' };
  let header, claims;
  try {
    // golang-jwt decodes with RawURLEncoding: padding or other alphabets fail.
    if (!parts.slice(0, 2).every((p) => /^[A-Za-z0-9_-]*$/.test(p))) throw new Error('encoding');
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!header || typeof header !== 'object' || !claims || typeof claims !== 'object' || Array.isArray(claims)) {
    return { ok: false, reason: 'malformed' };
  }
  // The key function accepts any HMAC method (HS256/384/512), nothing else.
  const hash = HMAC_HASH[header.alg];
  if (!hash) return { ok: false, reason: `alg ${header.alg}` };
  if (!/^[A-Za-z0-9_-]*$/.test(parts[2])) return { ok: false, reason: 'malformed signature' };
  const want = createHmac(hash, `${secret}-user-token`).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'bad signature' };
  // golang-jwt's own registered-claim checks (only when present): exp and
  // nbf must be JSON numbers; exp must be in the future, nbf not (iat is
  // not checked without the WithIssuedAt option, which AnqiCMS does not set).
  for (const k of ['exp', 'nbf']) {
    if (k in claims && typeof claims[k] !== 'number') return { ok: false, reason: `${k} is not a number` };
  }
  if ('exp' in claims && !(now < claims.exp)) return { ok: false, reason: 'exp passed' };
  if ('nbf' in claims && now < claims.nbf) return { ok: false, reason: 'nbf in the future' };
  // AnqiCMS's claims: both must be JSON strings.
  if (typeof claims.userId !== 'string' || typeof claims.t !== 'string') return { ok: false, reason: 'claims' };
  const t = goInt(claims.t);
  if (t < now) return { ok: false, reason: 'expired' };
  return { ok: true, userId: claims.userId, id: goInt(claims.userId), t };
}

// ------------------------------------------------------------ users

/** A member row as GET /api/user/detail shows it, in Go's field order. */
const USER_DEFAULTS = {
  id: 0,
  created_time: 0,
  updated_time: 0,
  parent_id: 0,
  user_name: '',
  url_token: '',
  real_name: '',
  first_name: '',
  last_name: '',
  birthday: 0,
  avatar_url: '',
  introduce: '',
  email: '',
  email_verified: false,
  phone: '',
  group_id: 0,
  google_id: '',
  reset_password: false,
  status: 1,
  is_retailer: 0,
  balance: 0,
  total_reward: 0,
  invite_code: '',
  last_login: 0,
  expire_time: 0,
};
/** Fields the database holds but detail never shows (`json:"-"`). */
const HIDDEN = ['password'];

/** A full users-table row from partial fields (extra: custom fields, as detail shows them). */
export function makeUser(fields) {
  const t = nowSec();
  const row = { ...USER_DEFAULTS, created_time: t, updated_time: t, ...fields };
  row.id = Number(row.id);
  if (!row.user_name) row.user_name = `user${row.id}`;
  if (!row.url_token) row.url_token = row.user_name;
  if (!row.invite_code) row.invite_code = row.id.toString(36).toUpperCase();
  if (row.password === undefined) row.password = '$2a$04$standin.bcrypt.hash.never.shown.by.detail.xxxxxxxxxxx';
  if (row.extra === undefined) row.extra = {};
  return row;
}

/** `full_avatar_url` as AnqiCMS's GetThumb derives it from avatar_url. */
export function fullAvatarUrl(avatarUrl, storageUrl) {
  if (!avatarUrl) return '';
  if (avatarUrl.startsWith('http') || avatarUrl.startsWith('//')) return avatarUrl;
  return `${storageUrl}/${avatarUrl.replace(/^\/+/, '')}`;
}

/** The `data` of GET /api/user/detail for a row. */
export function userDetail(row, { storageUrl, baseUrl }) {
  const out = {};
  for (const k of Object.keys(USER_DEFAULTS)) out[k] = row[k];
  // Columns the test added beyond the model (custom fields live in `extra`).
  for (const k of Object.keys(row)) {
    if (!(k in out) && !HIDDEN.includes(k) && k !== 'extra') out[k] = row[k];
  }
  out.extra = row.extra ?? {};
  out.token = '';
  out.group = null;
  out.full_avatar_url = fullAvatarUrl(row.avatar_url, storageUrl);
  out.link = `${baseUrl}/people/${row.id}.html`;
  return out;
}

// ------------------------------------------------------------ images

/**
 * The format Go's image.Decode would pick, by the magic strings its
 * registered decoders declare (jpeg, png, gif, x/image webp and bmp, and
 * AnqiCMS's own ico), or null.
 */
export function sniffFormat(buf) {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xd8) return 'jpeg';
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex'))) return 'png';
  if (b.length >= 6 && /^GIF8[79]a$/.test(b.toString('latin1', 0, 6))) return 'gif';
  if (b.length >= 15 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 15) === 'WEBPVP8') return 'webp';
  if (b.length >= 10 && b.toString('latin1', 0, 2) === 'BM' && b.readUInt32LE(6) === 0) return 'bmp';
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0) return 'ico';
  return null;
}

class DecodeError extends Error {}

/** Uncompressed BMP (8-bit palette, 24, 32 bit) as golang.org/x/image/bmp reads it: RGBA. */
function decodeBmpDib(b, dibOff, pixOff, { icon = false } = {}) {
  const hdrSize = b.readUInt32LE(dibOff);
  if (hdrSize < 40) throw new DecodeError('bmp: unsupported header');
  const width = b.readInt32LE(dibOff + 4);
  let height = b.readInt32LE(dibOff + 8);
  const bpp = b.readUInt16LE(dibOff + 14);
  const compression = b.readUInt32LE(dibOff + 16);
  if (icon) height = height / 2; // XOR bitmap + AND mask
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0 || width * height > 100e6) throw new DecodeError('bmp: bad size');
  if (!(compression === 0 || (compression === 3 && bpp === 32))) throw new DecodeError('bmp: unsupported compression');
  let palette = null;
  let paletteBytes = 0;
  if (bpp === 8) {
    const used = b.readUInt32LE(dibOff + 32) || 256;
    const at = dibOff + hdrSize + (compression === 3 && hdrSize === 40 ? 12 : 0);
    palette = [];
    for (let i = 0; i < used && at + i * 4 + 3 <= b.length; i++) palette.push([b[at + i * 4 + 2], b[at + i * 4 + 1], b[at + i * 4]]);
    paletteBytes = used * 4;
  } else if (bpp !== 24 && bpp !== 32) {
    throw new DecodeError(`bmp: unsupported ${bpp} bits per pixel`);
  }
  // In a .bmp file the pixel offset is in the file header; in an icon the
  // pixels follow the header (+ colour masks) and the palette.
  if (pixOff === null) pixOff = dibOff + hdrSize + (compression === 3 && hdrSize === 40 ? 12 : 0) + paletteBytes;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (pixOff + stride * height > b.length) throw new DecodeError('bmp: truncated');
  const data = Buffer.alloc(width * height * 4);
  let anyAlpha = false;
  for (let y = 0; y < height; y++) {
    const row = pixOff + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      if (bpp === 8) {
        const c = palette[b[row + x]] ?? [0, 0, 0];
        data[o] = c[0]; data[o + 1] = c[1]; data[o + 2] = c[2]; data[o + 3] = 255;
      } else {
        const p = row + x * (bpp / 8);
        data[o] = b[p + 2]; data[o + 1] = b[p + 1]; data[o + 2] = b[p];
        data[o + 3] = bpp === 32 ? b[p + 3] : 255;
        if (bpp === 32 && b[p + 3] !== 0) anyAlpha = true;
      }
    }
  }
  // A 32-bit bitmap whose 4th byte is all zero is opaque (x/image/bmp reads it so).
  if (bpp === 32 && !anyAlpha) for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { data, width, height };
}

async function decodeIco(b) {
  // AnqiCMS's ico decoder: the largest entry (wider and taller than the
  // first); PNG entries as PNG, the rest as a BMP DIB.
  const count = b.readUInt16LE(4);
  if (count === 0 || b.length < 6 + count * 16) throw new DecodeError('ico: no entries');
  const entries = [];
  for (let i = 0; i < count; i++) {
    const e = 6 + i * 16;
    entries.push({ w: b[e] || 256, h: b[e + 1] || 256, size: b.readUInt32LE(e + 8), off: b.readUInt32LE(e + 12) });
  }
  let best = entries[0];
  for (const e of entries) if (e.w > best.w && e.h > best.h) best = e;
  const body = b.subarray(best.off, best.off + best.size);
  if (sniffFormat(body) === 'png') return decodeWithSharp(body);
  return decodeBmpDib(body, 0, null, { icon: true });
}

async function decodeWithSharp(buf) {
  // Go ignores EXIF orientation and embedded ICC profiles: so does this
  // (no rotate, ignoreIcc); only the first frame of an animation.
  try {
    const { data, info } = await sharp(buf, { ignoreIcc: true, failOn: 'error', pages: 1 })
      .toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (e) {
    throw new DecodeError(e.message);
  }
}

/**
 * Decodes as AnqiCMS's UploadUserAvatar would (image.Decode, then a second
 * try as WebP): { data (RGBA), width, height, format }. Throws a
 * DecodeError for what Go cannot read (SVG, HEIC, AVIF, TIFF, PDF, animated
 * WebP, damaged files...).
 */
export async function decodeLikeAnqi(buf) {
  const format = sniffFormat(buf);
  if (!format) throw new DecodeError('image: unknown format');
  if (format === 'webp') {
    // x/image/webp has no animation support: frames sit in ANMF chunks it skips.
    const b = Buffer.from(buf);
    if (b.toString('latin1', 12, 16) === 'VP8X' && (b[20] & 0x02)) throw new DecodeError('webp: animated');
  }
  let img;
  if (format === 'bmp') img = decodeBmpDib(Buffer.from(buf), 14, Buffer.from(buf).readUInt32LE(10));
  else if (format === 'ico') img = await decodeIco(Buffer.from(buf));
  else img = await decodeWithSharp(buf);
  return { ...img, format };
}

// Lanczos3 as disintegration/imaging defines it: sinc(x)·sinc(x/3), |x| < 3.
const sinc = (x) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const lanczos = (x) => { x = Math.abs(x); return x < 3 ? sinc(x) * sinc(x / 3) : 0; };
// imaging's rounding to 8 bits: +0.5, truncate, clamp.
const clamp8 = (v) => { const i = Math.trunc(v + 0.5); return i > 255 ? 255 : i > 0 ? i : 0; };

/** Per output pixel: [first source index, weights...], imaging's mapping. */
function weights(dst, src) {
  const du = src / dst, scale = Math.max(1, du), ru = Math.ceil(scale * 3);
  const out = [];
  for (let v = 0; v < dst; v++) {
    const fu = (v + 0.5) * du - 0.5;
    const begin = Math.max(0, Math.ceil(fu - ru)), end = Math.min(src - 1, Math.floor(fu + ru));
    const idx = [], w = [];
    let sum = 0;
    for (let u = begin; u <= end; u++) {
      const k = lanczos((u - fu) / scale);
      if (k !== 0) { idx.push(u); w.push(k); sum += k; }
    }
    if (sum !== 0) for (let i = 0; i < w.length; i++) w[i] /= sum;
    out.push({ idx, w });
  }
  return out;
}

/** One resampling pass along x (horizontal) or y, alpha-weighted, 8-bit result. */
function pass(img, dstW, dstH, horizontal) {
  const { data, width, height } = img;
  const out = Buffer.alloc(dstW * dstH * 4);
  const ws = horizontal ? weights(dstW, width) : weights(dstH, height);
  const lines = horizontal ? height : width;
  for (let l = 0; l < lines; l++) {
    for (let o = 0; o < ws.length; o++) {
      const { idx, w } = ws[o];
      let r = 0, g = 0, b = 0, a = 0;
      for (let k = 0; k < idx.length; k++) {
        const p = (horizontal ? l * width + idx[k] : idx[k] * width + l) * 4;
        const aw = data[p + 3] * w[k];
        r += data[p] * aw; g += data[p + 1] * aw; b += data[p + 2] * aw; a += aw;
      }
      if (a !== 0) {
        const q = (horizontal ? l * dstW + o : o * dstW + l) * 4;
        out[q] = clamp8(r / a); out[q + 1] = clamp8(g / a); out[q + 2] = clamp8(b / a); out[q + 3] = clamp8(a);
      }
    }
  }
  return { data: out, width: dstW, height: dstH };
}

/** imaging.Resize(img, w, h, Lanczos): 0 keeps the aspect; the same size is a copy. */
export function imagingResize(img, w, h) {
  if (w === 0) w = Math.max(1, Math.floor((h * img.width) / img.height + 0.5));
  if (h === 0) h = Math.max(1, Math.floor((w * img.height) / img.width + 0.5));
  if (w === img.width && h === img.height) return { data: Buffer.from(img.data), width: w, height: h };
  let cur = img;
  if (w !== cur.width) cur = pass(cur, w, cur.height, true);
  if (h !== cur.height) cur = pass(cur, w, h, false);
  return cur;
}

/** imaging.CropAnchor(img, w, h, Center): integer centre, clipped to the image. */
function cropCenter(img, w, h) {
  const x0 = Math.trunc((img.width - w) / 2), y0 = Math.trunc((img.height - h) / 2);
  const xs = Math.max(0, x0), ys = Math.max(0, y0);
  const xe = Math.min(img.width, x0 + w), ye = Math.min(img.height, y0 + h);
  const cw = xe - xs, ch = ye - ys;
  const out = Buffer.alloc(cw * ch * 4);
  for (let y = 0; y < ch; y++) img.data.copy(out, y * cw * 4, ((ys + y) * img.width + xs) * 4, ((ys + y) * img.width + xe) * 4);
  return { data: out, width: cw, height: ch };
}

/**
 * imaging.Thumbnail(img, w, h, Lanczos) (= Fill with the Center anchor), as
 * AnqiCMS's ThumbnailCrop mode 2 calls it: the same size is copied as is;
 * sources of at least 100×100 are cropped to the target aspect first and
 * then resized; smaller ones are resized to cover and then cropped.
 */
export function imagingThumbnail(img, w = AVATAR_EDGE, h = AVATAR_EDGE) {
  if (img.width === w && img.height === h) return { data: Buffer.from(img.data), width: w, height: h };
  const srcAspect = img.width / img.height, dstAspect = w / h;
  if (img.width >= 100 && img.height >= 100) {
    const tmp = srcAspect < dstAspect
      ? cropCenter(img, img.width, Math.trunc(Math.max(1, (img.width * h) / w) + 0.5))
      : cropCenter(img, Math.trunc(Math.max(1, (img.height * w) / h) + 0.5), img.height);
    return imagingResize(tmp, w, h);
  }
  const tmp = srcAspect < dstAspect ? imagingResize(img, w, 0) : imagingResize(img, 0, h);
  return cropCenter(tmp, w, h);
}

const opaque = (img) => { for (let i = 3; i < img.data.length; i += 4) if (img.data[i] !== 255) return false; return true; };

/** The raw image as sharp input: RGB when fully opaque (Go's PNG encoder does the same). */
function rawInput(img, { flattenBlack = false } = {}) {
  if (flattenBlack || opaque(img)) {
    // Go's JPEG and GIF encoders read premultiplied colour: transparent → black.
    const rgb = Buffer.alloc(img.width * img.height * 3);
    for (let i = 0, j = 0; i < img.data.length; i += 4, j += 3) {
      const a = img.data[i + 3] / 255;
      rgb[j] = Math.round(img.data[i] * a); rgb[j + 1] = Math.round(img.data[i + 1] * a); rgb[j + 2] = Math.round(img.data[i + 2] * a);
    }
    return sharp(rgb, { raw: { width: img.width, height: img.height, channels: 3 } });
  }
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } });
}

/** Go's png.Encode: lossless, zlib default level, adaptive filters. */
const pngLossless = (img) => rawInput(img).png({ compressionLevel: 6, adaptiveFiltering: true, palette: false }).toBuffer();

/**
 * AnqiCMS's encodeImage for the avatar's extension. Options (the site's
 * set-up): quality (content setting, 0 → 90), cwebp (the bundled cwebp
 * binary is found: WebP is re-encoded lossy at `quality`; else PNG bytes go
 * out under .webp), pngquant (ImageMagick and pngquant both installed: PNG
 * is palette-quantised at quality (q-30)..q, kept only when smaller).
 * Returns { bytes, encodedAs } (encodedAs: the real format of the bytes).
 */
export async function encodeLikeAnqi(img, ext, { quality = DEFAULT_QUALITY, cwebp = false, pngquant = false } = {}) {
  const q = quality || DEFAULT_QUALITY;
  if (ext === 'jpg') {
    // Go's image/jpeg: baseline, standard tables scaled by quality, 4:2:0.
    const bytes = await rawInput(img, { flattenBlack: true })
      .jpeg({ quality: q, chromaSubsampling: '4:2:0', mozjpeg: false, optimiseCoding: false, trellisQuantisation: false, overshootDeringing: false, optimiseScans: false })
      .toBuffer();
    return { bytes, encodedAs: 'jpeg' };
  }
  if (ext === 'gif') {
    // Go's image/gif with nil options: 256 colours, Floyd–Steinberg. (Go
    // maps to the fixed Plan 9 palette; sharp picks an adaptive one.)
    const bytes = await rawInput(img, { flattenBlack: true }).gif({ colours: 256, dither: 1.0, effort: 7 }).toBuffer();
    return { bytes, encodedAs: 'gif' };
  }
  const png = await pngLossless(img);
  if (ext === 'webp') {
    if (cwebp) {
      // `cwebp -quiet in.png -q <quality> -o out`: lossy, method 4, alpha kept.
      const bytes = await rawInput(img).webp({ quality: q, effort: 4, alphaQuality: 100, smartSubsample: false }).toBuffer();
      return { bytes, encodedAs: 'webp' };
    }
    return { bytes: png, encodedAs: 'png' };
  }
  if (pngquant) {
    // pngquant --skip-if-larger --quality (q-30)-q: libimagequant, as sharp's palette PNG.
    const lossy = await rawInput(img).png({ palette: true, quality: q, colours: 256, dither: 1.0, effort: 10 }).toBuffer();
    if (lossy.length < png.length) return { bytes: lossy, encodedAs: 'png' };
  }
  return { bytes: png, encodedAs: 'png' };
}

/** Extension of the stored avatar for a decoded format (jpeg→jpg; gif, webp; else png). */
export const extForFormat = (format) => (format === 'jpeg' ? 'jpg' : format === 'gif' || format === 'webp' ? format : 'png');

export const CONTENT_TYPES = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', ico: 'image/x-icon', bmp: 'image/bmp', svg: 'image/svg+xml', html: 'text/html; charset=utf-8', txt: 'text/plain; charset=utf-8' };

/**
 * The whole avatar path of POST /api/user/avatar minus storage: decode,
 * 256² centre crop + Lanczos (imaging.Thumbnail), re-encode by the source
 * format. Returns { ext, bytes, encodedAs, sourceFormat, sourceWidth,
 * sourceHeight, width, height, pixels (RGBA of the 256² before encoding) }.
 * Throws on what AnqiCMS cannot decode.
 */
export async function processAvatar(buf, { quality = DEFAULT_QUALITY, cwebp = false, pngquant = false, edge = AVATAR_EDGE } = {}) {
  const src = await decodeLikeAnqi(buf);
  const ext = extForFormat(src.format);
  const thumb = imagingThumbnail(src, edge, edge);
  const { bytes, encodedAs } = await encodeLikeAnqi(thumb, ext, { quality, cwebp, pngquant });
  return {
    ext, bytes, encodedAs, sourceFormat: src.format, sourceWidth: src.width, sourceHeight: src.height,
    width: thumb.width, height: thumb.height, pixels: thumb.data,
  };
}

// ------------------------------------------------------------ the server

const GARBAGE = {
  html: { type: 'text/html; charset=utf-8', body: '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n' },
  json: { type: 'application/json; charset=utf-8', body: '{"status":"ok","result":[1,2,3]}' },
  truncated: { type: 'application/json; charset=utf-8', body: '{"code":0,"data":{"id":1,"user_na' },
  empty: { type: 'application/json; charset=utf-8', body: '' },
};

const FAIL_MODES = ['http500', 'code-1', 'reset', 'hang'];

function lang(req) {
  const cookieLang = /(?:^|;\s*)lang=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
  const pick = new URL(req.url, 'http://x').searchParams.get('lang') || cookieLang || req.headers['accept-language'] || '';
  return /^\s*en/i.test(pick) ? 'en' : 'zh';
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(Object.assign(new Error('body too large'), { tooLarge: true })); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Starts the stand-in. Options:
 *   secret       the site's TOKEN_SECRET (default STANDIN_SECRET)
 *   users        array of partial user rows (makeUser fills the rest)
 *   files        { 'uploads/user/5.gif': Buffer, ... } pre-seeded files
 *   quality      content setting "quality" (0 or absent → 90)
 *   cwebp        true: WebP avatars are re-encoded as lossy WebP (the site
 *                found its bundled cwebp); false (default): PNG bytes under .webp
 *   pngquant     true: PNG avatars palette-quantised (ImageMagick + pngquant
 *                installed on the site); default false
 *   storageUrl   the site's storage URL (default: its own origin)
 *   maxBodyBytes a request body above this is cut (default 64 MiB; AnqiCMS has no limit)
 *   port         listen on this port (default random)
 * Resolves to the handle described in docs/anqicms.md ("The stand-in").
 */
export async function start({
  secret = STANDIN_SECRET,
  users = [],
  files = {},
  quality = DEFAULT_QUALITY,
  cwebp = false,
  pngquant = false,
  storageUrl,
  maxBodyBytes = 64 * 1024 * 1024,
  port: wantPort = 0,
} = {}) {
  const table = new Map();
  for (const u of users) { const row = makeUser(u); table.set(row.id, row); }
  const store = new Map(Object.entries(files).map(([k, v]) => [k.replace(/^\/+/, ''), Buffer.from(v)]));
  const mtimes = new Map();
  const startedAt = new Date();
  const requests = [];
  const settings = { quality, cwebp, pngquant, storageUrl };
  let delayMs = 0;
  let garbage = null;
  const failures = []; // queue of modes for the next avatar POSTs
  let down = false;
  const sockets = new Set();
  const timers = new Set();
  const hanging = new Set();

  const server = http.createServer((req, res) => {
    // One request per connection: a kept-alive connection that the server
    // closes while the client's pool still holds it fails the client's
    // next request ("Network connection lost" in workerd), a flake that is
    // not what any test is about.
    res.shouldKeepAlive = false;
    handle(req, res).catch((e) => {
      if (!res.headersSent) { res.writeHead(500, { 'Content-Type': 'text/plain' }); res.end(`stand-in error: ${e.message}`); }
      else res.destroy();
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.keepAliveTimeout = 1000;

  const listen = (p) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => { server.off('error', reject); resolve(server.address().port); });
  });
  const port = await listen(wantPort);
  const origin = `http://127.0.0.1:${port}`;
  const storage = () => settings.storageUrl ?? origin;

  const sleep = (ms) => new Promise((resolve) => { const t = setTimeout(() => { timers.delete(t); resolve(); }, ms); timers.add(t); });

  function json(res, entry, obj, headers = {}) {
    const body = JSON.stringify(obj);
    entry.status = 200;
    entry.response = obj;
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }
  // iris.Map marshals with sorted keys: code, data, msg.
  const envelope = (code, msg, data) => (data === undefined ? { code, msg } : { code, data, msg });

  /** ParseUserToken: who is logged in, plus the update-token header. */
  function session(req, out) {
    let token = req.headers.token;
    let from = 'header';
    if (!token) {
      const m = /(?:^|;\s*)token=([^;]*)/.exec(req.headers.cookie ?? '');
      try { token = m ? decodeURIComponent(m[1]) : ''; } catch { token = m[1]; }
      from = 'cookie';
    }
    const v = verifyUserToken(secret, token);
    if (!v.ok) return { user: null, from, reason: v.reason };
    const row = v.id > 0 ? table.get(v.id) : undefined;
    // Renewal happens whether or not the user exists.
    if (v.t < nowSec() + RENEW_WINDOW_SECONDS) out['Update-Token'] = signUserToken(secret, v.id, nowSec() + RENEWED_TOKEN_SECONDS);
    if (!row) return { user: null, from, reason: 'no such user' };
    // UserAuth reads the claim string back as a uint: "+5" or "05x" fail there.
    if (!/^\d+$/.test(v.userId)) return { user: null, from, reason: 'userId not a uint' };
    return { user: row, from };
  }

  async function handle(req, res) {
    const url = new URL(req.url, origin);
    const entry = { method: req.method, path: url.pathname + url.search, headers: { ...req.headers }, time: Date.now(), status: null };
    requests.push(entry);
    res.on('finish', () => { entry.ms = Date.now() - entry.time; });
    if (delayMs > 0) await sleep(delayMs);
    if (res.destroyed || req.destroyed) return;
    const msgs = MESSAGES[lang(req)];
    const isApi = url.pathname.startsWith('/api/');

    if (isApi && garbage) {
      const g = GARBAGE[garbage] ?? GARBAGE.html;
      entry.status = 200;
      res.writeHead(200, { 'Content-Type': g.type, 'Content-Length': Buffer.byteLength(g.body) });
      res.end(g.body);
      return;
    }

    if ((req.method === 'GET' || req.method === 'HEAD') && url.pathname.startsWith('/uploads/')) return serveFile(req, res, url, entry);

    if (req.method === 'GET' && url.pathname === '/logout') {
      const extra = {};
      session(req, extra);
      res.setHeader('Set-Cookie', 'token=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly');
      if (url.searchParams.get('return') === 'json') return json(res, entry, envelope(1001, msgs.loggedOut), extra);
      entry.status = 200;
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', ...extra });
      res.end(`<html><body>${msgs.loggedOut}</body></html>`);
      return;
    }

    const route = `${req.method} ${url.pathname}`;
    const known = ['GET /api/user/detail', 'POST /api/user/detail', 'POST /api/user/avatar'];
    if (!known.includes(route)) {
      entry.status = 404;
      req.resume();
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Not Found');
      return;
    }

    // Injected failures of avatar POSTs, one per POST that arrives: a reset,
    // a hang and an HTTP 500 come from in front of AnqiCMS (proxy, crash),
    // before it looks at the token; code -1 is AnqiCMS's own answer when
    // storing fails, after the token was accepted.
    const failure = route === 'POST /api/user/avatar' && failures.length ? failures.shift() : null;
    if (failure) entry.failed = failure;
    if (failure === 'reset') { entry.status = 'reset'; req.socket.resetAndDestroy(); return; }
    if (failure === 'hang') { entry.status = 'hang'; hanging.add(res); res.on('close', () => hanging.delete(res)); req.resume(); return; }
    if (failure === 'http500') {
      await readBody(req, maxBodyBytes).catch(() => null);
      entry.status = 500;
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Internal Server Error');
      return;
    }

    const extra = {};
    const who = session(req, extra);
    entry.userId = who.user?.id ?? null;
    if (!who.user) { req.resume(); return json(res, entry, envelope(1001, msgs.needLogin), extra); }
    const user = who.user;

    if (route === 'GET /api/user/detail') {
      return json(res, entry, envelope(0, null, userDetail(user, { storageUrl: storage(), baseUrl: origin })), extra);
    }

    let body;
    try {
      body = await readBody(req, maxBodyBytes);
    } catch (e) {
      if (e.tooLarge) { entry.status = 413; res.writeHead(413, { Connection: 'close' }); res.end(); return; }
      throw e;
    }

    if (route === 'POST /api/user/detail') {
      let r;
      try { r = JSON.parse(body.toString('utf8')); } catch (e) { return json(res, entry, envelope(-1, e.message), extra); }
      if (!r || typeof r !== 'object') r = {};
      const str = (v) => (typeof v === 'string' ? v.trim() : '');
      // UpdateUserInfo: these fields are replaced by what was sent (empty when
      // left out); phone/email only while unset; avatar_url and status are ignored.
      const userName = str(r.user_name);
      for (const other of table.values()) {
        if (other.id !== user.id && other.user_name === userName) return json(res, entry, envelope(-1, msgs.nameTaken), extra);
      }
      user.user_name = userName;
      user.first_name = str(r.first_name);
      user.last_name = str(r.last_name);
      user.real_name = user.first_name ? `${user.first_name} ${user.last_name}` : str(r.real_name);
      user.introduce = str(r.introduce);
      if (!user.phone && str(r.phone)) user.phone = str(r.phone);
      if (!user.email && str(r.email)) user.email = str(r.email);
      user.updated_time = nowSec();
      return json(res, entry, envelope(0, msgs.saved), extra);
    }

    // POST /api/user/avatar
    const ctype = req.headers['content-type'] ?? '';
    if (!/^multipart\/form-data/i.test(ctype)) return json(res, entry, envelope(-1, ERR_NOT_MULTIPART), extra);
    let form;
    try {
      form = await new Request(url, { method: 'POST', headers: { 'content-type': ctype }, body }).formData();
    } catch (e) {
      return json(res, entry, envelope(-1, `multipart: ${e.message}`), extra);
    }
    const file = form.get('file');
    if (failure === 'code-1') return json(res, entry, envelope(-1, msgs.saveFailed), extra);
    if (!file || typeof file === 'string') return json(res, entry, envelope(-1, ERR_MISSING_FILE), extra);
    const bytes = Buffer.from(await file.arrayBuffer());
    entry.file = { name: file.name, type: file.type, size: bytes.length, bytes };
    let out;
    try {
      out = await processAvatar(bytes, settings);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      entry.error = e.message;
      return json(res, entry, envelope(-1, msgs.saveFailed), extra);
    }
    const key = `uploads/user/${user.id}.${out.ext}`;
    store.set(key, out.bytes);
    mtimes.set(key, new Date());
    user.avatar_url = key;
    entry.stored = { key, encodedAs: out.encodedAs, size: out.bytes.length };
    return json(res, entry, envelope(0, msgs.uploaded, { avatar_url: `${storage()}/${key}` }), extra);
  }

  function serveFile(req, res, url, entry) {
    let key;
    try { key = decodeURIComponent(url.pathname).replace(/^\/+/, ''); } catch { key = ''; }
    const bytes = key.includes('..') ? undefined : store.get(key);
    if (!bytes) {
      entry.status = 404;
      const page = '<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>404</h1></body></html>';
      res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(page) });
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    // Go's http.ServeContent: type by extension, Last-Modified, 304 on If-Modified-Since.
    const ext = key.split('.').pop().toLowerCase();
    const mtime = mtimes.get(key) ?? startedAt;
    const lastModified = new Date(Math.floor(mtime.getTime() / 1000) * 1000);
    const ims = req.headers['if-modified-since'] ? Date.parse(req.headers['if-modified-since']) : NaN;
    if (!Number.isNaN(ims) && lastModified.getTime() <= ims) {
      entry.status = 304;
      res.writeHead(304, { 'Last-Modified': lastModified.toUTCString() });
      res.end();
      return;
    }
    entry.status = 200;
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': bytes.length,
      'Last-Modified': lastModified.toUTCString(),
      'Accept-Ranges': 'bytes',
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }

  const handle_ = {
    url: new URL(origin + '/'),
    origin,
    port,
    secret,
    users: table,
    files: store,
    requests,
    settings,
    /** A token as the site's login issues it (30 days), or valid `expiresInSeconds` (negative: already expired). */
    mintToken(userId, { expiresInSeconds = LOGIN_TOKEN_SECONDS, exp } = {}) {
      return signUserToken(secret, userId, exp ?? nowSec() + expiresInSeconds);
    },
    /** Adds or replaces a user row; returns it. */
    addUser(fields) { const row = makeUser(fields); table.set(row.id, row); return row; },
    /** The user's row (live), or undefined. */
    user(id) { return table.get(Number(id)); },
    deleteUser(id) { return table.delete(Number(id)); },
    /** status -1 ("禁止"); AnqiCMS itself does not act on it. */
    ban(id, status = -1) { const row = table.get(Number(id)); if (row) row.status = status; return row; },
    /** Log entries for one route, e.g. requestsTo('POST', '/api/user/avatar'). */
    requestsTo(method, path) { return requests.filter((r) => r.method === method && r.path.split('?')[0] === path); },
    /** Down: the listener is closed and open connections destroyed (connection refused); up: listens again on the same port. */
    async setDown(on = true) {
      if (on && !down) {
        down = true;
        await new Promise((resolve) => { server.close(() => resolve()); for (const s of sockets) s.destroy(); });
      } else if (!on && down) {
        await listen(port);
        down = false;
      }
    },
    /** Every answer waits this long first (0: none). */
    setDelay(ms) { delayMs = Math.max(0, Number(ms) || 0); },
    /** /api/* answers HTTP 200 with a non-envelope body: true/'html' (an nginx error page), 'json', 'truncated', 'empty'; false: off. */
    setGarbage(kind = true) { garbage = kind === true ? 'html' : kind || null; },
    /** The next n avatar POSTs fail: 'http500', 'code-1' ({code:-1} as a storage failure), 'reset' (TCP reset), 'hang' (never answered). */
    failAvatarPosts(n = 1, how = 'http500') {
      if (!FAIL_MODES.includes(how)) throw new Error(`failAvatarPosts: how must be one of ${FAIL_MODES.join(', ')}`);
      for (let i = 0; i < n; i++) failures.push(how);
    },
    /** Pending failures not yet used. */
    get pendingFailures() { return failures.length; },
    /** The stored file (Buffer) at a key or URL path, or undefined. */
    file(keyOrPath) { return store.get(String(keyOrPath).replace(/^https?:\/\/[^/]+/, '').replace(/^\/+/, '').split('?')[0]); },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const r of hanging) r.destroy();
      if (!down) {
        down = true;
        await new Promise((resolve) => { server.close(() => resolve()); for (const s of sockets) s.destroy(); });
      }
    },
  };
  return handle_;
}
