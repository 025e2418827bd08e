// Shared pieces of the peer workers (bundled into each by esbuild).
//
// Every peer does the same job as ours, with the image library it is named
// after doing the pixel work: read the multipart part `file`, decode, centre
// square, resize to 256 px, apply the EXIF orientation, encode WebP q85, store
// it in R2 (as ours does) and answer with the WebP bytes. No auth, no KV.
//
// Orientation is applied after the resize, on the 256² result: a centre
// square maps onto the centre square under every EXIF orientation, and a
// square resize commutes with flips and quarter turns, so the output is the
// same as orienting first, for a fraction of the memory and time.

export const SIZE = 256;
export const QUALITY = 85;

// --- wasm memory accounting ----------------------------------------------
// Wasm memory only grows, so its byteLength after a request is the peak of
// everything before it in this isolate. Peers register each Memory they
// instantiate (a peer may run several wasm modules: jSquash has one per codec).
const memories = new Map(); // label -> WebAssembly.Memory

/** Records a wasm instance's memory (exported, or imported as env.memory). */
export function trackMemory(label, exportsOrMemory, imports) {
  const found = new Set();
  const add = (v) => { if (v instanceof WebAssembly.Memory) found.add(v); };
  if (exportsOrMemory instanceof WebAssembly.Memory) add(exportsOrMemory);
  else for (const v of Object.values(exportsOrMemory ?? {})) add(v);
  for (const mod of Object.values(imports ?? {})) for (const v of Object.values(mod ?? {})) add(v);
  [...found].forEach((m, i) => memories.set(found.size > 1 ? `${label}#${i}` : label, m));
}

/** Total bytes of all tracked wasm memories, and the split by module. */
export function wasmMemory() {
  let total = 0;
  const parts = [];
  for (const [label, m] of memories) {
    total += m.buffer.byteLength;
    parts.push(`${label}=${m.buffer.byteLength}`);
  }
  return { total, detail: parts.join(' ') };
}

// --- input ------------------------------------------------------------------

/** Sniffs the container from magic bytes (same rule as ours: never the name). */
export function sniff(b) {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 &&
      b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'webp';
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'gif';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return 'unknown';
}

/**
 * EXIF Orientation (1..8) of a JPEG, 1 when absent. Walks the markers up to
 * the first scan and reads IFD0 of the APP1 "Exif" segment.
 */
export function jpegOrientation(b) {
  let p = 2;
  while (p + 4 <= b.length && b[p] === 0xff) {
    const marker = b[p + 1];
    const len = (b[p + 2] << 8) | b[p + 3];
    if (marker === 0xda || marker === 0xd9) break; // start of scan / end
    if (marker === 0xe1 && len >= 16 && b[p + 4] === 0x45 && b[p + 5] === 0x78 && b[p + 6] === 0x69 && b[p + 7] === 0x66) {
      const t = p + 10; // TIFF header
      const le = b[t] === 0x49;
      const u16 = (o) => (le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
      const u32 = (o) => (le ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000
        : (b[o] * 0x1000000) + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]));
      const ifd = t + u32(t + 4);
      const n = u16(ifd);
      for (let i = 0; i < n; i++) {
        const e = ifd + 2 + i * 12;
        if (e + 12 > p + 2 + len) break;
        if (u16(e) === 0x0112) {
          const v = u16(e + 8);
          return v >= 1 && v <= 8 ? v : 1;
        }
      }
      return 1;
    }
    p += 2 + len;
  }
  return 1;
}

/**
 * Applies an EXIF orientation to RGBA pixels. Returns {data, width, height}
 * (the same object for orientation 1).
 */
export function orientRgba(data, width, height, orientation) {
  if (orientation === 1) return { data, width, height };
  const swap = orientation >= 5;
  const W = width, H = height;
  const ow = swap ? H : W, oh = swap ? W : H;
  const src = new Uint32Array(data.buffer, data.byteOffset, W * H);
  const out = new Uint32Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx, sy;
      switch (orientation) {
        case 2: sx = W - 1 - x; sy = y; break;          // mirror
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;  // 180°
        case 4: sx = x; sy = H - 1 - y; break;          // flip
        case 5: sx = y; sy = x; break;                  // transpose
        case 6: sx = y; sy = H - 1 - x; break;          // 90° clockwise
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;  // transverse
        case 8: sx = W - 1 - y; sy = x; break;          // 90° anticlockwise
        default: sx = x; sy = y;
      }
      out[y * ow + x] = src[sy * W + sx];
    }
  }
  return { data: new Uint8Array(out.buffer), width: ow, height: oh };
}

/** Centre square of a width×height image: {x, y, side}. */
export function centreSquare(width, height) {
  const side = Math.min(width, height);
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), side };
}

// --- the worker shell -------------------------------------------------------

/**
 * Builds a module worker around `job(bytes) -> Promise<Uint8Array webp>`.
 * POST (any path) with multipart `file`: 200 image/webp, or 500 JSON
 * {error} when the job throws. Every answer carries X-Wasm-Memory-Bytes.
 */
export function peerWorker(name, job) {
  return {
    async fetch(request, env) {
      try {
        if (request.method !== 'POST') return new Response(`${name} peer: POST a multipart file`, { status: 405 });
        const form = await request.formData();
        const file = form.get('file');
        if (!file || typeof file === 'string') throw new Error('no multipart part named "file"');
        const bytes = new Uint8Array(await file.arrayBuffer());
        const webp = await job(bytes);
        if (env.AVATARS) await env.AVATARS.put('uploads/user/1.webp', webp, { httpMetadata: { contentType: 'image/webp' } });
        return new Response(webp, { headers: headers(name, { 'Content-Type': 'image/webp' }) });
      } catch (e) {
        const error = `${e && e.name ? e.name + ': ' : ''}${e && e.message ? e.message : String(e)}`;
        return new Response(JSON.stringify({ error }), { status: 500, headers: headers(name, { 'Content-Type': 'application/json' }) });
      }
    },
  };
}

function headers(name, extra) {
  const mem = wasmMemory();
  return {
    ...extra,
    'X-Peer': name,
    'X-Wasm-Memory-Bytes': String(mem.total),
    'X-Wasm-Memory-Detail': mem.detail,
  };
}
