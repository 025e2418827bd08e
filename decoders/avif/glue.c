/* The AVIF decoder module's C ABI (decoders/common/phone_abi.h): libavif
 * 1.0.4 reads the container (grid, alpha, colr, irot/imir) and runs dav1d
 * 1.4.3; the YUV planes are converted here (common/yuv.h): only the part
 * the Worker keeps, at the scale it asks for.
 *
 * Limits, besides the arena (the module's whole heap, sized by the Worker):
 *   - libavif: imageSizeLimit = the request's max_pixels (also dav1d's
 *     frame_size_limit), imageCountLimit 1, the primary item only (an AVIF
 *     sequence's track is never decoded), one thread;
 *   - one picture per AV1 sample: every buffer libavif hands to dav1d
 *     (compiled with -Ddav1d_send_data=avatar_dav1d_send_data, build.sh)
 *     passes through check_obus() first, which refuses a second frame header
 *     (hidden frames, spatial layers), a frame that is not a shown key frame,
 *     and show_existing_frame: the decode then costs one picture's pixels,
 *     which the Worker counted before calling (src/imaging/work.rs);
 *   - the decoded size must be the one the Worker read from ispe. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "avif/avif.h"
#include "dav1d/dav1d.h"
#include "../common/phone_abi.h"
#include "../common/yuv.h"

#define EXPORT __attribute__((visibility("default")))

size_t shim_heap_peak(void);
int shim_heap_failed(void);

static int frames_refused;
static uint32_t pictures, decoded_pixels;

static void set_error(ph_result *rs, const char *m) {
    strncpy(rs->error, m, PH_ERROR_LEN - 1);
    rs->error[PH_ERROR_LEN - 1] = 0;
}

/* --- the one-picture check on AV1 OBUs (AV1 spec 5.3, 5.5, 5.9) --- */
static int leb128(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int i = 0; i < 8; i++) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

/* 0 when the buffer holds at most one frame header and it is a shown key
 * frame (or the stream is a reduced still picture, which has exactly one);
 * -1 otherwise. A malformed OBU is left to dav1d. */
static int check_obus(const uint8_t *p, size_t n) {
    const uint8_t *end = p + n;
    int frames = 0, reduced = 0;
    while (p < end) {
        uint8_t h = *p++;
        uint32_t type = (h >> 3) & 15;
        int ext = (h >> 2) & 1, has_size = (h >> 1) & 1;
        if (ext) { if (p >= end) return 0; p++; }
        uint64_t size = (uint64_t)(end - p);
        if (has_size && leb128(&p, end, &size)) return 0;
        if (size > (uint64_t)(end - p)) return 0;
        const uint8_t *body = p;
        p += size;
        switch (type) {
        case 1: /* sequence header: seq_profile(3) still_picture(1) reduced_still_picture_header(1) */
            if (size >= 1) reduced = (body[0] >> 3) & 1;
            break;
        case 3: /* frame header */
        case 6: /* frame */
            if (++frames > 1) return -1;
            if (!reduced) {
                if (size < 1) return 0;
                /* show_existing_frame(1) frame_type(2) show_frame(1) */
                int show_existing = body[0] >> 7, frame_type = (body[0] >> 5) & 3, show = (body[0] >> 4) & 1;
                if (show_existing || frame_type != 0 || !show) return -1;
            }
            break;
        case 8: /* tile list (large-scale tile): not a still picture */
            return -1;
        default:
            break;
        }
    }
    return 0;
}

int avatar_dav1d_send_data(Dav1dContext *c, Dav1dData *in) {
    if (in && in->data && check_obus(in->data, in->sz)) {
        frames_refused = 1;
        return DAV1D_ERR(EINVAL);
    }
    return dav1d_send_data(c, in);
}

/* --- decoding --- */

static int result_code(avifResult r) {
    switch (r) {
    case AVIF_RESULT_OUT_OF_MEMORY: return PH_E_MEMORY;
    case AVIF_RESULT_NOT_IMPLEMENTED:
    case AVIF_RESULT_NO_CODEC_AVAILABLE: return PH_E_UNSUPPORTED;
    default: return PH_E_DAMAGED;
    }
}

EXPORT int ph_decode(const uint8_t *data, uint32_t len, const ph_request *rq, ph_result *rs) {
    memset(rs, 0, sizeof *rs);
    frames_refused = 0; pictures = 0; decoded_pixels = 0;
    if (rq->shift > 3 || !rq->w || !rq->h) { set_error(rs, "bad request"); return PH_E_DAMAGED; }
    avifDecoder *d = avifDecoderCreate();
    if (!d) { set_error(rs, "out of memory (decoder)"); return PH_E_MEMORY; }
    d->maxThreads = 1;
    d->requestedSource = AVIF_DECODER_SOURCE_PRIMARY_ITEM;
    d->imageSizeLimit = rq->max_pixels;
    d->imageDimensionLimit = 65535;
    d->imageCountLimit = 1;
    d->ignoreExif = AVIF_TRUE;
    d->ignoreXMP = AVIF_TRUE;
    d->strictFlags = AVIF_STRICT_DISABLED; /* accept what browsers accept (e.g. no pixi) */
    int code = PH_OK;
    avifResult r = avifDecoderSetIOMemory(d, data, len);
    if (r == AVIF_RESULT_OK) r = avifDecoderParse(d);
    if (r != AVIF_RESULT_OK) goto fail;
    if (d->image->width != rq->expect_w || d->image->height != rq->expect_h) {
        snprintf(rs->error, PH_ERROR_LEN, "libavif reads %ux%u, the header %ux%u", d->image->width,
                 d->image->height, rq->expect_w, rq->expect_h);
        code = PH_E_MISMATCH;
        goto done;
    }
    r = avifDecoderNextImage(d);
    if (r != AVIF_RESULT_OK) goto fail;
    const avifImage *im = d->image;
    if (im->width != rq->expect_w || im->height != rq->expect_h || rq->x + rq->w > im->width || rq->y + rq->h > im->height) {
        set_error(rs, "decoded size disagrees with the header");
        code = PH_E_MISMATCH;
        goto done;
    }
    if (im->depth < 8 || im->depth > 12) { set_error(rs, "bit depth"); code = PH_E_UNSUPPORTED; goto done; }
    yuv_planes p;
    memset(&p, 0, sizeof p);
    p.plane[0] = im->yuvPlanes[0];
    p.stride[0] = im->yuvRowBytes[0];
    if (im->yuvFormat != AVIF_PIXEL_FORMAT_YUV400) {
        p.plane[1] = im->yuvPlanes[1]; p.stride[1] = im->yuvRowBytes[1];
        p.plane[2] = im->yuvPlanes[2]; p.stride[2] = im->yuvRowBytes[2];
    }
    p.sx = im->yuvFormat == AVIF_PIXEL_FORMAT_YUV420 || im->yuvFormat == AVIF_PIXEL_FORMAT_YUV422;
    p.sy = im->yuvFormat == AVIF_PIXEL_FORMAT_YUV420;
    p.w = im->width; p.h = im->height; p.depth = im->depth;
    int alpha = rq->want_alpha && im->alphaPlane != NULL;
    if (alpha) {
        p.plane[3] = im->alphaPlane; p.stride[3] = im->alphaRowBytes;
        p.alpha_depth = im->depth; p.premultiplied = im->alphaPremultiplied;
    }
    if (!p.plane[0]) { set_error(rs, "no picture"); code = PH_E_DAMAGED; goto done; }
    uint32_t matrix = im->matrixCoefficients, full = im->yuvRange == AVIF_RANGE_FULL;
    yuv_conv cv;
    yuv_conv_init(&cv, matrix, full, im->depth);
    uint32_t ox, ow, oy, oh, ch = alpha ? 4 : 3;
    yuv_block_range(rq->x, rq->w, rq->shift, &ox, &ow);
    yuv_block_range(rq->y, rq->h, rq->shift, &oy, &oh);
    uint8_t *out = (uint8_t *)malloc((size_t)ow * oh * ch);
    if (!out) { set_error(rs, "out of memory (output)"); code = PH_E_MEMORY; goto done; }
    yuv_convert_blocks(&p, &cv, 0, 0, rq->shift, ox, oy, ow, oh, out, ow * ch, ch);
    rs->pixels = (uint32_t)(uintptr_t)out;
    rs->stride = ow * ch;
    rs->out_w = ow; rs->out_h = oh; rs->out_x = ox; rs->out_y = oy;
    rs->channels = ch;
    rs->depth = im->depth;
    rs->primaries = im->colorPrimaries;
    rs->transfer = im->transferCharacteristics;
    rs->matrix = matrix;
    rs->full_range = full;
    rs->pictures = d->alphaPresent ? 2 : 1;
    rs->decoded_pixels = im->width * im->height * rs->pictures;
    goto done;
fail:
    code = frames_refused ? PH_E_FRAMES : result_code(r);
    if (frames_refused)
        set_error(rs, "more than one picture in an AV1 sample (hidden frames or layers), or not a shown key frame");
    else
        snprintf(rs->error, PH_ERROR_LEN, "%s: %s", avifResultToString(r), d->diag.error);
done:
    if (code != PH_OK && shim_heap_failed()) code = PH_E_MEMORY;
    avifDecoderDestroy(d); /* dav1d and the YUV planes go before the caller reads the pixels */
    rs->heap_peak = (uint32_t)shim_heap_peak();
    return code;
}
