// The compiled decoder modules (decoders/build.sh), imported as
// WebAssembly.Module: scripts/build.sh copies phone-avif.wasm and
// phone-heic.wasm next to the bundled index.js, whose imports keep these
// paths (worker-build's esbuild is told to leave *.wasm imports alone), and
// wrangler (or Miniflare) uploads them as CompiledWasm modules. Nothing is
// instantiated until an AVIF or HEIC upload arrives (js/phone.mjs).
import avif from './phone-avif.wasm';
import heic from './phone-heic.wasm';

export function phone_avif_module() {
  return avif;
}

export function phone_heic_module() {
  return heic;
}
