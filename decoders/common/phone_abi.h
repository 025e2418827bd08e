/* The C ABI shared by the two decoder modules (phone-avif.wasm and
 * phone-heic.wasm), as the Worker calls it (src/imaging/phone/ffi.rs holds
 * the same structs, #[repr(C)], and a test checks their layout).
 *
 * Both modules live in the Worker's own wasm memory (position-independent
 * side modules, js/phone.mjs): every pointer here is an address in that
 * memory. The input is the upload where it already lies; the request and
 * result structs are the Rust caller's; the pixels are in the decoder's
 * arena (its heap), valid until the caller frees the arena.
 *
 *   int ph_decode(const uint8_t *data, uint32_t len, const ph_request *rq, ph_result *rs)
 *
 * returns PH_OK or one of the PH_E_* codes below; rs->error holds an English
 * detail for the logs (never shown to members). */
#ifndef PHONE_ABI_H
#define PHONE_ABI_H
#include <stdint.h>

#define PH_OK 0
#define PH_E_DAMAGED -1     /* not a valid file of this kind, or decoding failed */
#define PH_E_UNSUPPORTED -2 /* a valid file of a kind not decoded here */
#define PH_E_LIMIT -3       /* larger than the request allows (pixels, tile size, SPS size) */
#define PH_E_MEMORY -4      /* the arena is used up */
#define PH_E_FRAMES -5      /* more than one picture (hidden frames, layers) or a non-intra one */
#define PH_E_MISMATCH -6    /* the file's size disagrees with what the caller read from its header */

#define PH_ERROR_LEN 120

typedef struct {
    /* The part of the stored image (before irot/imir) to convert, in pixels
     * of the full image. The output is the blocks of 2^shift x 2^shift
     * pixels (aligned to multiples of 2^shift in the full image) that meet
     * this rectangle, each the average of its pixels: ceil-aligned, so the
     * output starts at pixel (x >> shift) << shift. */
    uint32_t x, y, w, h;
    uint32_t shift;          /* 0..3: 1/1, 1/2, 1/4, 1/8 */
    uint32_t max_pixels;     /* the decoders refuse a picture larger than this */
    uint32_t expect_w, expect_h; /* the image size the caller read (ispe); decoding checks it */
    uint32_t want_alpha;     /* AVIF: convert the alpha plane too (RGBA out) */
} ph_request;

typedef struct {
    uint32_t pixels;         /* address of the output (RGB8 or RGBA8 rows) */
    uint32_t stride;         /* bytes per output row */
    uint32_t out_w, out_h;   /* output size in blocks */
    uint32_t out_x, out_y;   /* the output's first block, in blocks of the full image */
    uint32_t channels;       /* 3 or 4 */
    uint32_t depth;          /* bit depth of the coded samples */
    uint32_t primaries, transfer, matrix, full_range; /* CICP used (matrix/range) and found (primaries/transfer) */
    uint32_t pictures;       /* coded pictures decoded (grid tiles, alpha) */
    uint32_t decoded_pixels; /* their pixels, for the work count */
    uint32_t heap_peak;      /* the arena's high-water mark, bytes */
    char error[PH_ERROR_LEN];
} ph_result;

#endif
