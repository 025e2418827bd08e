// Files that are small but claim (or legitimately hold) far more work than
// their size suggests: CPU bombs and their legitimate neighbours, generated
// (no binaries committed). Each builder is deterministic and quick.
//
// Used by tests/integration/cpu.test.mjs, bench/cpu-bound.mjs and the fuzz
// seeds (scripts/fuzz-seed.sh through scripts/cpu-bomb-seeds.mjs).

// ------------------------------------------------------------------ JPEG

/** A marker segment: FF `marker`, the 2-byte length, `body`. */
function segment(marker, body) {
  const head = Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]);
  return Buffer.concat([head, Buffer.from(body)]);
}

/** DHT body for one table: class 0 (DC) or 1 (AC), id, one code of `len` bits for each symbol. */
function huffmanTable(tableClass, id, codes) {
  const counts = new Array(16).fill(0);
  const symbols = [];
  for (const [len, symbol] of [...codes].sort((a, b) => a[0] - b[0])) {
    counts[len - 1]++;
    symbols.push(symbol);
  }
  return [(tableClass << 4) | id, ...counts, ...symbols];
}

const SAMPLING = {
  '4:4:4': [0x11, 0x11, 0x11],
  '4:2:0': [0x22, 0x11, 0x11],
  '4:1:1': [0x41, 0x11, 0x11],
  grey: [0x11],
};

/**
 * A JPEG of `width`×`height` (quantisers all 1) built from its parts:
 * `sampling` (a SAMPLING key), `progressive`, an Adobe APP14 segment
 * (which the DC-only decoder declines), one DC and one AC Huffman table
 * given as [[length, symbol], ...], and `scans`: [{ comps (1-based ids),
 * ss, se, ah, al, data (entropy-coded bytes) }].
 */
export function jpeg({ width, height, sampling = '4:4:4', progressive = false, adobe = false, dc, ac, scans }) {
  const factors = SAMPLING[sampling];
  const parts = [Buffer.from([0xff, 0xd8])];
  if (adobe) parts.push(segment(0xee, [...Buffer.from('Adobe'), 0, 100, 0, 0, 0, 0, 1]));
  parts.push(segment(0xdb, [0, ...new Array(64).fill(1)]));
  const sof = [8, height >> 8, height & 0xff, width >> 8, width & 0xff, factors.length];
  factors.forEach((f, i) => sof.push(i + 1, f, 0));
  parts.push(segment(progressive ? 0xc2 : 0xc0, sof));
  parts.push(segment(0xc4, huffmanTable(0, 0, dc)), segment(0xc4, huffmanTable(1, 0, ac)));
  for (const s of scans) {
    parts.push(segment(0xda, [s.comps.length, ...s.comps.flatMap((id) => [id, 0x00]), s.ss, s.se, (s.ah << 4) | s.al]));
    if (s.data) parts.push(s.data);
  }
  parts.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

/** Blocks of one component (`factor`: its h<<4|v byte) in a `width`×`height` frame, and of a whole interleaved scan. */
export function jpegBlocks(width, height, sampling = '4:4:4') {
  const factors = SAMPLING[sampling].map((f) => [f >> 4, f & 15]);
  const hmax = Math.max(...factors.map((f) => f[0]));
  const vmax = Math.max(...factors.map((f) => f[1]));
  const mcus = Math.ceil(width / (8 * hmax)) * Math.ceil(height / (8 * vmax));
  return factors.length === 1
    ? Math.ceil(width / 8) * Math.ceil(height / 8)
    : mcus * factors.reduce((n, [h, v]) => n + h * v, 0);
}

// DC table: category 0 as the 1-bit code "0" (a zero bit = "no change").
const DC_ZERO = [[1, 0x00]];
// AC table whose all-zero 16-bit code is symbol 0x0F (run 0, a 15-bit
// coefficient): fed zero bits, every block reads 63 of these codes.
const AC_SLOW = [[16, 0x0f]];
// AC table of one 1-bit code: end of block.
const AC_EOB = [[1, 0x00]];

/**
 * The bomb: a 150-byte baseline JPEG, 10000×10000, three 4:4:4
 * components, an AC table with one 16-bit code (symbol 0x0F), an empty
 * scan, EOI. A decoder that feeds zero bits past the scan's end decodes
 * 4.7 M blocks of 63 coefficients each. Options: another `sampling`, an
 * Adobe APP14 segment (the DC-only decoder declines it, jpeg-decoder
 * takes it), `data`: entropy bytes to put in the scan (zeros: enough bytes
 * for 2 bits a block pass a length check but still run out after a few
 * blocks of these slow codes).
 */
export function jpegEmptyScan({ width = 10000, height = 10000, sampling = '4:4:4', adobe = false, data } = {}) {
  const comps = SAMPLING[sampling].map((_, i) => i + 1);
  return jpeg({ width, height, sampling, adobe, dc: DC_ZERO, ac: AC_SLOW, scans: [{ comps, ss: 0, se: 63, ah: 0, al: 0, data }] });
}

/**
 * jpegEmptyScan with zero bytes enough for 2 bits a block (the least a
 * baseline block can take: a DC code and an end of block): passes a
 * length check, but with these tables the data covers a few thousand
 * blocks and the rest would be decoded from zero bits past its end.
 */
export function jpegShortScan({ width = 10000, height = 10000, sampling = '4:4:4', adobe = false } = {}) {
  const data = Buffer.alloc(Math.ceil(jpegBlocks(width, height, sampling) / 4));
  return jpegEmptyScan({ width, height, sampling, adobe, data });
}

/**
 * A progressive JPEG of `scans` scans (up to 64, the most accepted): a DC
 * first scan (Al 13) then DC refinement scans of one bit a block each
 * (Al 12, 11, ... 0, then the last one repeated), all of them empty
 * unless `full` (then each has its one bit a block, zeros: with up to 14
 * scans a valid, uniformly grey file).
 */
export function jpegDcRefinements({ width = 10000, height = 10000, sampling = '4:4:4', scans = 64, full = false, adobe = false } = {}) {
  const comps = SAMPLING[sampling].map((_, i) => i + 1);
  const data = full ? Buffer.alloc(Math.ceil(jpegBlocks(width, height, sampling) / 8)) : undefined;
  const list = [{ comps, ss: 0, se: 0, ah: 0, al: 13, data }];
  for (let al = 12; list.length < scans; al = Math.max(al - 1, 0)) list.push({ comps, ss: 0, se: 0, ah: al + 1, al, data });
  return jpeg({ width, height, sampling, progressive: true, adobe, dc: DC_ZERO, ac: AC_EOB, scans: list });
}

/**
 * A progressive JPEG whose DC scan is complete (one zero bit a block) and
 * then `acScans` AC scans (Ss 1..63) cycling over the components:
 * `ac: 'empty'`: no data, with the slow AC table (63 codes a block when
 * fed zeros); `ac: 'eobrun'`: valid data, each scan one end-of-band run
 * over all its blocks (a few bytes for any size).
 */
export function jpegAcScans({ width = 4000, height = 4000, sampling = '4:4:4', acScans = 63, ac = 'empty', adobe = true } = {}) {
  const comps = SAMPLING[sampling].map((_, i) => i + 1);
  const dcData = Buffer.alloc(Math.ceil(jpegBlocks(width, height, sampling) / 8));
  const scans = [{ comps, ss: 0, se: 0, ah: 0, al: 0, data: dcData }];
  const factors = SAMPLING[sampling].map((f) => [f >> 4, f & 15]);
  const hmax = Math.max(...factors.map((f) => f[0]));
  const vmax = Math.max(...factors.map((f) => f[1]));
  for (let i = 0; i < acScans; i++) {
    const c = i % comps.length;
    const [h, v] = factors[c];
    const blocks = Math.ceil(Math.ceil((width * h) / hmax) / 8) * Math.ceil(Math.ceil((height * v) / vmax) / 8);
    scans.push({ comps: [comps[c]], ss: 1, se: 63, ah: 0, al: 0, data: ac === 'eobrun' ? eobRuns(blocks) : undefined });
  }
  const acTable = ac === 'eobrun' ? AC_EOB_RUNS : AC_SLOW;
  return jpeg({ width, height, sampling, progressive: true, adobe, dc: DC_ZERO, ac: acTable, scans });
}

/**
 * AC entropy data of end-of-band runs covering `blocks` blocks: run r
 * (symbol r << 4, EOBr, the 4-bit code r of AC_EOB_RUNS) + r bits, at
 * most 32,767 blocks per code.
 */
function eobRuns(blocks) {
  const w = new MsbWriter();
  for (let left = blocks; left > 0;) {
    const run = Math.min(left, 32767);
    const r = Math.floor(Math.log2(run));
    w.put(r, 4);
    w.put(run - (1 << r), r);
    left -= run;
  }
  return w.finish();
}

// AC table of end-of-band runs EOB0..EOB14, 4-bit codes 0..14.
const AC_EOB_RUNS = Array.from({ length: 15 }, (_, r) => [4, r << 4]);

/** Bits written most significant first (JPEG), padded with ones, 0xFF stuffed. */
class MsbWriter {
  constructor() { this.bytes = []; this.acc = 0; this.n = 0; }
  put(value, bits) {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >>> i) & 1);
      if (++this.n === 8) { this.push(this.acc); this.acc = 0; this.n = 0; }
    }
  }
  push(b) {
    this.bytes.push(b);
    if (b === 0xff) this.bytes.push(0);
  }
  finish() {
    if (this.n) this.push(((this.acc << (8 - this.n)) | ((1 << (8 - this.n)) - 1)) & 0xff);
    return Buffer.from(this.bytes);
  }
}

// ------------------------------------------------------------------- PNG

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Bits written least significant first (deflate, VP8L, GIF). */
class LsbWriter {
  constructor() { this.bytes = []; this.acc = 0; this.n = 0; }
  put(value, bits) {
    for (let i = 0; i < bits; i++) {
      this.acc |= ((value >>> i) & 1) << this.n;
      if (++this.n === 8) { this.bytes.push(this.acc); this.acc = 0; this.n = 0; }
    }
  }
  /** A Huffman code: its bits most significant first, as deflate reads them. */
  code(code, len) {
    for (let i = len - 1; i >= 0; i--) this.put((code >>> i) & 1, 1);
  }
  finish() {
    if (this.n) { this.bytes.push(this.acc); this.acc = 0; this.n = 0; }
    return Buffer.from(this.bytes);
  }
}

/**
 * A zlib stream of `n` zero bytes at deflate's densest: one dynamic block
 * whose codes are "0" for a 258-byte copy at distance 1 (so 2 bits per 258
 * bytes, the format's limit of about 1032:1) and "10" for a literal zero.
 */
export function zlibZeros(n) {
  const w = new LsbWriter();
  w.put(1, 1); // last block
  w.put(2, 2); // dynamic Huffman
  w.put(286 - 257, 5); // HLIT: literal/length codes 0..285
  w.put(0, 5); // HDIST: one distance code
  // Code-length code: symbols 18 (a run of zeros), 1 and 2 used.
  const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
  const clLen = { 18: 1, 1: 2, 2: 2 };
  const clCode = { 18: [0, 1], 1: [2, 2], 2: [3, 2] }; // canonical: 18 "0", 1 "10", 2 "11"
  w.put(18 - 4, 4); // HCLEN: code-length lengths up to symbol 1 (position 18)
  for (let i = 0; i < 18; i++) w.put(clLen[order[i]] ?? 0, 3);
  const length = (l) => w.code(...clCode[l]);
  const zeros = (count) => {
    while (count > 0) {
      const k = Math.min(count, 138);
      w.code(...clCode[18]);
      w.put(k - 11, 7);
      count -= k;
    }
  };
  // Literal/length lengths: 0 → 2, 1..255 → 0, 256 → 2, 257..284 → 0, 285 → 1.
  length(2);
  zeros(255);
  length(2);
  zeros(28);
  length(1);
  length(1); // the one distance code (distance 1) → 1 bit
  // Canonical literal/length codes: 285 "0", 0 "10", 256 "11"; distance 0 "0".
  w.code(2, 2); // the first zero as a literal
  let left = n - 1;
  for (; left >= 258; left -= 258) w.put(0, 2); // copy 258 from distance 1
  for (; left > 0; left--) w.code(2, 2);
  w.code(3, 2); // end of block
  const deflate = w.finish();
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((n % 65521) << 16) | 1) >>> 0, 0); // a = 1, b = n (mod 65521)
  return Buffer.concat([Buffer.from([0x78, 0xda]), deflate, adler]);
}

const PNG_CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bytes of filtered image data (with the filter byte of each row) of one `w`×`h` pass. */
function rawBytes(w, h, bitDepth, colorType) {
  if (w === 0 || h === 0) return 0;
  return h * (1 + Math.ceil((w * PNG_CHANNELS[colorType] * bitDepth) / 8));
}

/**
 * A PNG of `width`×`height` whose pixels are all zero (black, or
 * transparent with alpha), compressed at deflate's limit. The case:
 * 10000×10000 RGBA 16-bit, 777 KB. `interlaced`: Adam7.
 */
export function pngZeros({ width = 10000, height = 10000, bitDepth = 16, colorType = 6, interlaced = false } = {}) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colorType, 0, 0, interlaced ? 1 : 0], 8);
  let raw = 0;
  if (interlaced) {
    for (const [x0, y0, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]) {
      raw += rawBytes(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy), bitDepth, colorType);
    }
  } else {
    raw = rawBytes(width, height, bitDepth, colorType);
  }
  const parts = [Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('IHDR', ihdr)];
  if (colorType === 3) parts.push(pngChunk('PLTE', Buffer.from([0, 0, 0, 255, 255, 255])));
  parts.push(pngChunk('IDAT', zlibZeros(raw)), pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------- GIF

/**
 * A GIF whose one frame is `width`×`height` pixels of colour 0, LZW at its
 * densest: each code one pixel longer than the last until the table is
 * full (4096 codes), then the longest code over and over (about 2,700
 * pixels a byte). `cut`: stop the data after that many bytes (a truncated
 * frame).
 */
export function gifLzw({ width = 4000, height = 3500, cut } = {}) {
  // 4 colours: codes 0..3, clear 4, end 5; code k ≥ 6 will hold k - 4 zeros.
  const minSize = 2;
  const clear = 4;
  const w = new LsbWriter();
  let size = minSize + 1;
  let next = clear + 2;
  const zerosOf = (code) => (code < clear ? 1 : code - 4);
  w.put(clear, size);
  let left = width * height;
  let prev = 0; // length of the previous code's string (0: none yet)
  while (left > 0) {
    // The decoder will add code `next` = previous string + one zero: the
    // longest string there is. Once the table is full (4096), the longest
    // is 4095's.
    let code = prev === 0 ? 0 : next < 4096 ? next : 4095;
    let len = prev === 0 ? 1 : next < 4096 ? prev + 1 : zerosOf(4095);
    if (len > left) {
      code = left === 1 ? 0 : left + 4;
      len = left;
    }
    w.put(code, size);
    left -= len;
    // Mirror the decoder: after every code but the first it adds an entry
    // and widens its codes when the next one would not fit.
    if (prev > 0 && next < 4096) {
      next++;
      if (next === 1 << size && size < 12) size++;
    }
    prev = len;
  }
  w.put(clear + 1, size);
  let data = w.finish();
  if (cut !== undefined) data = data.subarray(0, cut);
  const out = [Buffer.from('GIF89a', 'latin1')];
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen.set([0x81, 0, 0], 4); // global table of 4 colours
  out.push(screen, Buffer.from([0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0]));
  const desc = Buffer.alloc(10);
  desc[0] = 0x2c;
  desc.writeUInt16LE(width, 5);
  desc.writeUInt16LE(height, 7);
  out.push(desc, Buffer.from([minSize]));
  for (let i = 0; i < data.length; i += 255) {
    const block = data.subarray(i, i + 255);
    out.push(Buffer.from([block.length]), block);
  }
  out.push(Buffer.from([0, 0x3b]));
  return Buffer.concat(out);
}

// ------------------------------------------------------------------ WebP

function riff(fourcc, data) {
  const chunk = Buffer.alloc(8 + data.length + (data.length & 1));
  chunk.write(fourcc, 0, 'latin1');
  chunk.writeUInt32LE(data.length, 4);
  data.copy(chunk, 8);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(4 + chunk.length, 4);
  head.write('WEBP', 8, 'latin1');
  return Buffer.concat([head, chunk]);
}

/**
 * A lossless WebP of `width`×`height` in a few dozen bytes: every prefix
 * code has one symbol, which costs no bits to decode, so the image is
 * declared, not stored (opaque black).
 */
export function webpLosslessFlat({ width = 3000, height = 3000 } = {}) {
  const w = new LsbWriter();
  w.put(0x2f, 8);
  w.put(width - 1, 14);
  w.put(height - 1, 14);
  w.put(0, 1); // alpha hint
  w.put(0, 3); // version
  w.put(0, 1); // no transform
  w.put(0, 1); // no colour cache
  w.put(0, 1); // one group of prefix codes
  for (const symbol of [0, 0, 0, 255, 0]) { // green, red, blue, alpha, distance
    w.put(1, 1); // simple code
    w.put(0, 1); // one symbol
    w.put(1, 1); // 8-bit symbol
    w.put(symbol, 8);
  }
  return riff('VP8L', w.finish());
}

// ------------------------------------------------------------------- BMP

/**
 * An 8-bit RLE BMP of `width`×`height` whose data is just "end of bitmap":
 * every pixel is left to the decoder's default, so the image is declared,
 * not stored.
 */
export function bmpRleEmpty({ width = 4800, height = 3700 } = {}) {
  const data = Buffer.from([0, 1]);
  const palette = Buffer.alloc(256 * 4);
  const off = 14 + 40 + palette.length;
  const h = Buffer.alloc(54);
  h.write('BM', 0, 'latin1');
  h.writeUInt32LE(off + data.length, 2);
  h.writeUInt32LE(off, 10);
  h.writeUInt32LE(40, 14);
  h.writeInt32LE(width, 18);
  h.writeInt32LE(height, 22);
  h.writeUInt16LE(1, 26);
  h.writeUInt16LE(8, 28);
  h.writeUInt32LE(1, 30); // BI_RLE8
  h.writeUInt32LE(data.length, 34);
  h.writeUInt32LE(256, 46);
  return Buffer.concat([h, palette, data]);
}
