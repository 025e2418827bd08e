// A test-only Worker around the decoder modules (tests/integration/
// phone-modules.test.mjs): runs js/phone.mjs and the built phone-*.wasm in
// workerd, inside a WebAssembly.Memory that stands in for the Rust
// module's, filled with a pattern beforehand, and reports what the decoder
// returned and whether anything outside its arena (and the request/result
// structs) changed.
//   POST /decode?kind=avif|heic&w=&h=&x=&y=&cw=&ch=&shift=&arena=<bytes>&alpha=0|1&pixels=1
//   (&bare=1: no pattern and no check of the memory around, for timing)
import { phone_decode } from './phone.mjs';
import avif from './phone-avif.wasm';
import heic from './phone-heic.wasm';

const memory = new WebAssembly.Memory({ initial: 256, maximum: 2048 });
let served = 0;

function fnv(bytes) {
  let h = 2166136261;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 16777619);
  return (h >>> 0).toString(16);
}

export default {
  async fetch(req) {
    served++;
    const u = new URL(req.url);
    if (u.pathname === '/served') return Response.json({ served });
    const q = (k, d) => (u.searchParams.has(k) ? +u.searchParams.get(k) : d);
    const input = new Uint8Array(await req.arrayBuffer());
    const w = q('w'), h = q('h');
    const arenaLen = q('arena', 64 << 20);
    // [0, 1 MiB) untouched | input | request | result | arena | 64 KiB guard
    const inPtr = 1 << 20;
    const reqPtr = inPtr + Math.ceil(input.length / 16) * 16;
    const resPtr = reqPtr + 64;
    const arena = resPtr + 256;
    const end = arena + arenaLen + (64 << 10);
    const need = Math.ceil(end / 65536) - memory.buffer.byteLength / 65536;
    if (need > 0) memory.grow(need);
    const m = new Uint8Array(memory.buffer);
    const bare = u.searchParams.get('bare') === '1';
    if (!bare) for (let i = 0; i < m.length; i++) m[i] = (i * 31 + 7) & 255;
    m.set(input, inPtr);
    const dv = new DataView(memory.buffer);
    [q('x', 0), q('y', 0), q('cw', w), q('ch', h), q('shift', 0), 100_000_000, w, h, q('alpha', 0)]
      .forEach((v, i) => dv.setUint32(reqPtr + 4 * i, v, true));
    const outside = () => (bare ? '' : fnv(m.subarray(0, resPtr)) + fnv(m.subarray(arena + arenaLen)));
    const before = outside();
    const t = Date.now();
    const rc = phone_decode(u.searchParams.get('kind') === 'heic' ? heic : avif, memory, arena, arenaLen, inPtr, input.length, reqPtr, resPtr);
    const ms = Date.now() - t;
    const intact = outside() === before;
    const r = new Uint32Array(memory.buffer, resPtr, 15);
    const [pixels, stride, ow, oh, ox, oy, ch, depth, primaries, transfer, matrix, fullRange, pictures, decodedPixels, heapPeak] = r;
    const error = new TextDecoder().decode(m.subarray(resPtr + 60, resPtr + 180)).replace(/\0.*$/s, '');
    const body = { rc, error, intact, ms, depth, cicp: [primaries, transfer, matrix, fullRange], pictures, decodedPixels, heapPeak, out: { w: ow, h: oh, x: ox, y: oy, ch } };
    if (rc === 0 && !bare) {
      const rows = [];
      for (let y = 0; y < oh; y++) rows.push(m.subarray(pixels + y * stride, pixels + y * stride + ow * ch));
      const all = new Uint8Array(ow * oh * ch);
      rows.forEach((row, y) => all.set(row, y * ow * ch));
      body.hash = fnv(all);
      body.inArena = pixels >= arena && pixels + stride * (oh - 1) + ow * ch <= arena + arenaLen;
      if (u.searchParams.get('pixels') === '1') {
        let bin = '';
        for (let i = 0; i < all.length; i += 8192) bin += String.fromCharCode(...all.subarray(i, i + 8192));
        body.pixels = btoa(bin);
      }
    }
    return Response.json(body);
  },
};
