#!/usr/bin/env node
// The limits of a wasm module's own memory (its memory section), so the
// build can show, and the tests check, the maximum set by the linker
// (scripts/build.sh, --max-memory).
//
//   node scripts/wasm-memory.mjs build/index_bg.wasm   → "memory 17..1920 pages (120 MiB max)"
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Reads an unsigned LEB128 at `pos`: [value, next position]. */
function leb(buf, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) return [value, pos];
  }
}

/** { initial, maximum } in 64 KiB pages of the first memory the module defines (maximum null if none). */
export function wasmMemoryLimits(buf) {
  if (buf.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  let pos = 8;
  while (pos < buf.length) {
    const id = buf[pos++];
    let size;
    [size, pos] = leb(buf, pos);
    if (id === 5) {
      let p = pos;
      let count, flags, initial, maximum = null;
      [count, p] = leb(buf, p);
      if (count < 1) break;
      [flags, p] = leb(buf, p);
      [initial, p] = leb(buf, p);
      if (flags & 1) [maximum] = leb(buf, p);
      return { initial, maximum };
    }
    pos += size;
  }
  throw new Error('the module defines no memory');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { initial, maximum } = wasmMemoryLimits(readFileSync(process.argv[2]));
  console.log(`memory ${initial}..${maximum ?? '∞'} pages${maximum ? ` (${maximum / 16} MiB max)` : ' (no maximum)'}`);
}
