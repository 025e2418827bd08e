// Peer: @cf-wasm/photon (photon-rs compiled to wasm, the `image` crate inside).
//
// The package's workerd entry imports photon_rs_bg.wasm as a compiled module
// and instantiates it synchronously at load (initPhoton.sync), so nothing to
// init here; initPhoton.promise resolves to the wasm exports (for memory).
//
// Limitation recorded in the results: photon's only WebP encoder is the
// `image` crate's lossless one (get_bytes_webp() takes no quality), so this
// peer's output is lossless WebP, not q85.
import { PhotonImage, SamplingFilter, crop, resize, initPhoton } from '@cf-wasm/photon/workerd';
import { SIZE, centreSquare, jpegOrientation, orientRgba, peerWorker, sniff, trackMemory } from '../common.js';

let tracked = false;

async function job(bytes) {
  if (!tracked) { trackMemory('photon', await initPhoton.promise); tracked = true; }
  const format = sniff(bytes);
  const orientation = format === 'jpeg' ? jpegOrientation(bytes) : 1;
  const img = PhotonImage.new_from_byteslice(bytes); // decode (jpeg/png/gif/webp via `image`)
  let square, small, upright;
  try {
    const { x, y, side } = centreSquare(img.get_width(), img.get_height());
    square = crop(img, x, y, x + side, y + side);
    img.free();
    small = resize(square, SIZE, SIZE, SamplingFilter.Lanczos3);
    square.free(); square = null;
    if (orientation !== 1) {
      const o = orientRgba(small.get_raw_pixels(), SIZE, SIZE, orientation);
      upright = new PhotonImage(o.data, o.width, o.height);
    }
    return (upright ?? small).get_bytes_webp();
  } finally {
    for (const i of [square, small, upright]) if (i) try { i.free(); } catch { /* already freed */ }
  }
}

export default peerWorker('photon', job);
