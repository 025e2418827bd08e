// Peer: jSquash (Squoosh's codecs as standalone wasm modules):
// @jsquash/jpeg (MozJPEG decoder), @jsquash/png (Rust `png`), @jsquash/webp
// (libwebp decoder and encoder), @jsquash/resize (Squoosh's Rust resize).
//
// Workers usage (per jSquash's README): the wasm cannot be fetched at run time,
// so each .wasm is imported as a compiled WebAssembly.Module (esbuild leaves
// the import to workerd, see bench/lib/peers.mjs) and handed to the codec's
// `init`. For the Emscripten codecs (jpeg, webp) we pass our own
// instantiateWasm hook instead of the bare module, which does the same thing
// and lets us see the instance's memory. jSquash has no GIF decoder.
import './imagedata.js'; // first: ImageData for workerd, which has none
import decodeJpeg, { init as initJpegDec } from '@jsquash/jpeg/decode.js';
import decodePng, { init as initPngDec } from '@jsquash/png/decode.js';
import decodeWebp, { init as initWebpDec } from '@jsquash/webp/decode.js';
import encodeWebp, { init as initWebpEnc } from '@jsquash/webp/encode.js';
import resize, { initResize } from '@jsquash/resize';
import { simd } from 'wasm-feature-detect';
import jpegDecWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import pngWasm from '@jsquash/png/codec/pkg/squoosh_png_bg.wasm';
import webpDecWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import webpEncWasm from '@jsquash/webp/codec/enc/webp_enc.wasm';
import webpEncSimdWasm from '@jsquash/webp/codec/enc/webp_enc_simd.wasm';
import resizeWasm from '@jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm';
import { QUALITY, SIZE, jpegOrientation, orientRgba, peerWorker, sniff, trackMemory } from '../common.js';

/** Emscripten module options: instantiate `mod` ourselves and track its memory. */
const emscripten = (label, mod) => ({
  instantiateWasm(imports, receive) {
    const instance = new WebAssembly.Instance(mod, imports);
    trackMemory(label, instance.exports, imports);
    receive(instance);
    return instance.exports;
  },
});

// Each codec is initialised on first use, as a Worker would (cold start cost
// lands on the first request that needs it).
const ready = {};
const once = (key, fn) => (ready[key] ??= fn());
const decoders = {
  jpeg: async (b) => { await once('jpeg', () => initJpegDec(undefined, emscripten('mozjpeg_dec', jpegDecWasm))); return decodeJpeg(b); },
  png: async (b) => { await once('png', async () => trackMemory('png', await initPngDec(pngWasm))); return decodePng(b); },
  webp: async (b) => { await once('webpdec', () => initWebpDec(undefined, emscripten('webp_dec', webpDecWasm))); return decodeWebp(b); },
};

async function job(bytes) {
  const format = sniff(bytes);
  const decode = decoders[format];
  if (!decode) throw new Error(`jSquash has no decoder for ${format}`);
  const orientation = format === 'jpeg' ? jpegOrientation(bytes) : 1;
  // decode() wants an ArrayBuffer of exactly the file
  const image = await decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

  await once('resize', async () => trackMemory('resize', await initResize(resizeWasm)));
  // fitMethod 'contain' = crop the source to the target's aspect (centre), then resize.
  const small = await resize(image, { width: SIZE, height: SIZE, fitMethod: 'contain', method: 'lanczos3' });
  const o = orientRgba(new Uint8Array(small.data.buffer, small.data.byteOffset, small.data.byteLength),
    small.width, small.height, orientation);

  await once('webpenc', async () => {
    const useSimd = await simd();
    return initWebpEnc(undefined, emscripten('webp_enc', useSimd ? webpEncSimdWasm : webpEncWasm));
  });
  const webp = await encodeWebp(new ImageData(new Uint8ClampedArray(o.data.buffer, o.data.byteOffset, o.data.byteLength), o.width, o.height),
    { quality: QUALITY });
  return new Uint8Array(webp);
}

export default peerWorker('jsquash', job);
