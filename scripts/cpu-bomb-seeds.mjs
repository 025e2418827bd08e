#!/usr/bin/env node
// Writes the CPU bombs of tests/lib/cpu-bombs.mjs into a fuzz corpus
// directory (scripts/fuzz-seed.sh calls it for fuzz/corpus/pipeline), at
// the fuzz target's own limit of 4 MP (2000×2000; fuzz/fuzz_targets/
// pipeline.rs), so the fuzzer starts from files that declare far more
// than they hold, truncated scans and dense-but-valid data, instead of
// having to build them by mutation. A few go behind a parameter block
// with a small crop box (a finer JPEG scale: jpeg-decoder's path).
//
//   node scripts/cpu-bomb-seeds.mjs fuzz/corpus/pipeline
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as b from '../tests/lib/cpu-bombs.mjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: cpu-bomb-seeds.mjs DIR');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const S = { width: 2000, height: 2000 };
const seeds = {
  'jpeg-empty-scan': b.jpegEmptyScan(S),
  'jpeg-empty-scan-adobe': b.jpegEmptyScan({ ...S, adobe: true }),
  'jpeg-empty-scan-411': b.jpegEmptyScan({ ...S, sampling: '4:1:1' }),
  'jpeg-short-scan': b.jpegShortScan(S),
  'jpeg-short-scan-adobe': b.jpegShortScan({ ...S, adobe: true }),
  'jpeg-dc-refinements': b.jpegDcRefinements(S),
  'jpeg-dc-refinements-full': b.jpegDcRefinements({ ...S, scans: 8, full: true }),
  'jpeg-ac-empty': b.jpegAcScans({ width: 1200, height: 1200 }),
  'jpeg-ac-eobrun': b.jpegAcScans({ width: 1200, height: 1200, ac: 'eobrun' }),
  'png-zeros-rgba16': b.pngZeros(S),
  'png-zeros-palette1': b.pngZeros({ ...S, bitDepth: 1, colorType: 3 }),
  'png-zeros-interlaced': b.pngZeros({ ...S, bitDepth: 8, interlaced: true }),
  'gif-lzw': b.gifLzw(S),
  'gif-lzw-cut': b.gifLzw({ ...S, cut: 600 }),
  'webp-lossless-flat': b.webpLosslessFlat(S),
  'bmp-rle-empty': b.bmpRleEmpty(S),
};
// Parameter block (see fuzz/fuzz_targets/pipeline.rs): WebP out, crop box
// 900,900 200×200 (a finer scale than 1/8 for a JPEG).
const crop = Buffer.from([0x04, 0x3f, 0x84, 0x03, 0x84, 0x03, 0xc8, 0x00, 0xc8, 0x00]);
for (const name of ['jpeg-empty-scan', 'jpeg-short-scan', 'jpeg-ac-eobrun']) {
  seeds[`p-crop-${name}`] = Buffer.concat([crop, seeds[name]]);
}
for (const [name, bytes] of Object.entries(seeds)) writeFileSync(path.join(dir, `cpu-${name}`), bytes);
console.log(`${dir}: ${Object.keys(seeds).length} CPU-bomb seeds`);
