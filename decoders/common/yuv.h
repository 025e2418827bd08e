/* YCbCr (or GBR, or grey) planes -> RGB8/RGBA8, averaged over blocks of
 * 2^shift x 2^shift pixels: the decoder modules' only colour conversion.
 *
 * The avatar is a few hundred pixels, so the Worker asks for the part of the
 * picture it keeps, at the coarsest scale that still leaves twice the
 * avatar's size (src/imaging/phone/mod.rs, `scale_shift`): the output is
 * a fraction of the full-size RGB buffer (1/4 at 1/2 scale, 1/64 at 1/8), and
 * a pixel outside the crop is never converted. Each pixel is converted on
 * its own (chroma taken from the sample that covers it, as libheif does),
 * clamped, then averaged: the exact box average of the RGB image. With an
 * alpha plane the colour average is weighted by alpha (a transparent pixel's
 * colour does not bleed into its visible neighbours).
 *
 * Blocks are aligned to multiples of 2^shift in the full image, so with
 * grid tiles whose size is such a multiple a block never straddles two
 * tiles and each tile is converted on its own (decoders/heic/glue.cc).
 *
 * Fixed point: a converted sample is 0..4080 (8-bit value x 16) from 16.16
 * coefficients; 8- to 12-bit input fits in int32 (the sums are checked in
 * the comments of yuv_conv_init). */
#ifndef PHONE_YUV_H
#define PHONE_YUV_H
#include <stdint.h>

typedef struct {
    const uint8_t *plane[4]; /* Y, Cb, Cr, alpha; Cb/Cr NULL for grey, alpha NULL without */
    uint32_t stride[4];      /* bytes per row */
    uint32_t w, h;           /* the picture's visible size (luma) */
    uint32_t sx, sy;         /* chroma subsampling: 1 = halved in x / y */
    uint32_t depth;          /* 8..12; above 8, samples are uint16 */
    uint32_t alpha_depth;
    int premultiplied;       /* colour is premultiplied by alpha */
} yuv_planes;

typedef struct {
    int32_t yc, yo, mid, crr, cbg, crg, cbb;
    int identity; /* GBR stored as Y=G, Cb=B, Cr=R (matrix 0) */
} yuv_conv;

#define YUV_ONE 4080 /* 255 << 4 */

/* Coefficients for an H.273 matrix (1 BT.709, 4 FCC, 5/6 BT.601, 7 SMPTE 240,
 * 9/10 BT.2020; 0 identity; anything else, unspecified included, BT.601
 * as libavif and libheif take it), range and bit depth.
 * Bounds, 12-bit full range: yc = 4080*65536/4095 = 65290, so yc*Y <= 2.7e8
 * and crr*Cr <= 1.6*65290*2048 = 2.1e8; 8-bit limited: yc = 1.22e6, yc*Y <=
 * 3.1e8, crr*Cr <= 1.9e6*128 = 2.4e8: every sum stays under 2^31. */
static void yuv_conv_init(yuv_conv *c, uint32_t matrix, int full, uint32_t depth) {
    double kr = 0.299, kb = 0.114;
    switch (matrix) {
    case 1: kr = 0.2126; kb = 0.0722; break;
    case 4: kr = 0.30; kb = 0.11; break;
    case 7: kr = 0.212; kb = 0.087; break;
    case 9: case 10: kr = 0.2627; kb = 0.0593; break;
    default: break;
    }
    double kg = 1.0 - kr - kb;
    double scale = (double)YUV_ONE * 65536.0;
    double unit = (double)(1u << (depth - 8));
    double max = (double)((1u << depth) - 1);
    double ysc = full ? scale / max : scale / (219.0 * unit);
    double csc = full ? scale / max : scale / (224.0 * unit);
    c->identity = matrix == 0;
    c->yo = full ? 0 : (int32_t)(16.0 * unit);
    c->mid = (int32_t)(1u << (depth - 1));
    c->yc = (int32_t)(ysc + 0.5);
    if (c->identity) {
        /* G, B, R all scaled as luma. */
        c->crr = c->cbb = c->yc; c->cbg = c->crg = 0;
        c->yo = full ? 0 : c->yo;
        return;
    }
    c->crr = (int32_t)(2.0 * (1.0 - kr) * csc + 0.5);
    c->cbb = (int32_t)(2.0 * (1.0 - kb) * csc + 0.5);
    c->cbg = (int32_t)(2.0 * kb * (1.0 - kb) / kg * csc + 0.5);
    c->crg = (int32_t)(2.0 * kr * (1.0 - kr) / kg * csc + 0.5);
}

static inline uint32_t yuv_sample(const uint8_t *row, uint32_t x, int hi) {
    return hi ? ((const uint16_t *)(const void *)row)[x] : row[x];
}
static inline int32_t yuv_clamp(int32_t v) { return v < 0 ? 0 : v > YUV_ONE ? YUV_ONE : v; }

/* Converts the output blocks [ox, ox+ow) x [oy, oy+oh) (block indices in
 * the full image) that lie in this picture, whose pixel (0, 0) is the full
 * image's (px, py), both multiples of 2^shift (or 0). Block (bx, by) goes to
 * out + (by - oy) * ostride + (bx - ox) * och. */
static void yuv_convert_blocks(const yuv_planes *p, const yuv_conv *cv, uint32_t px, uint32_t py,
                               uint32_t shift, uint32_t ox, uint32_t oy, uint32_t ow, uint32_t oh,
                               uint8_t *out, uint32_t ostride, uint32_t och) {
    const uint32_t S = 1u << shift;
    const int hi = p->depth > 8, ahi = p->alpha_depth > 8;
    const int mono = p->plane[1] == 0 || p->plane[2] == 0;
    const int alpha = p->plane[3] != 0 && och == 4;
    const uint32_t amax = (1u << (p->alpha_depth ? p->alpha_depth : 8)) - 1;
    /* This picture's blocks, clipped to the requested ones. */
    uint32_t b0x = px >> shift, b0y = py >> shift;
    uint32_t b1x = (px + p->w + S - 1) >> shift, b1y = (py + p->h + S - 1) >> shift;
    if (b0x < ox) b0x = ox;
    if (b0y < oy) b0y = oy;
    if (b1x > ox + ow) b1x = ox + ow;
    if (b1y > oy + oh) b1y = oy + oh;
    for (uint32_t by = b0y; by < b1y; by++) {
        uint32_t y0 = (by << shift) - py, y1 = y0 + S;
        if (y1 > p->h) y1 = p->h;
        uint8_t *o = out + (size_t)(by - oy) * ostride + (size_t)(b0x - ox) * och;
        for (uint32_t bx = b0x; bx < b1x; bx++, o += och) {
            uint32_t x0 = (bx << shift) - px, x1 = x0 + S;
            if (x1 > p->w) x1 = p->w;
            uint32_t sr = 0, sg = 0, sb = 0, sa = 0, n = 0;
            for (uint32_t y = y0; y < y1; y++) {
                const uint8_t *Y = p->plane[0] + (size_t)y * p->stride[0];
                const uint8_t *U = mono ? 0 : p->plane[1] + (size_t)(y >> p->sy) * p->stride[1];
                const uint8_t *V = mono ? 0 : p->plane[2] + (size_t)(y >> p->sy) * p->stride[2];
                const uint8_t *A = alpha ? p->plane[3] + (size_t)y * p->stride[3] : 0;
                for (uint32_t x = x0; x < x1; x++) {
                    int32_t l = ((int32_t)yuv_sample(Y, x, hi) - cv->yo) * cv->yc;
                    int32_t r, g, b;
                    if (mono) {
                        r = g = b = yuv_clamp((l + 32768) >> 16);
                    } else {
                        int32_t cb = (int32_t)yuv_sample(U, x >> p->sx, hi), cr = (int32_t)yuv_sample(V, x >> p->sx, hi);
                        if (cv->identity) {
                            g = yuv_clamp((l + 32768) >> 16);
                            b = yuv_clamp(((cb - cv->yo) * cv->yc + 32768) >> 16);
                            r = yuv_clamp(((cr - cv->yo) * cv->yc + 32768) >> 16);
                        } else {
                            cb -= cv->mid; cr -= cv->mid;
                            r = yuv_clamp((l + cv->crr * cr + 32768) >> 16);
                            g = yuv_clamp((l - cv->cbg * cb - cv->crg * cr + 32768) >> 16);
                            b = yuv_clamp((l + cv->cbb * cb + 32768) >> 16);
                        }
                    }
                    if (alpha) {
                        uint32_t a = (yuv_sample(A, x, ahi) * 255 + amax / 2) / amax;
                        /* Premultiplied colour is already colour x alpha. */
                        uint32_t w = p->premultiplied ? 255 : a;
                        sr += (uint32_t)r * w; sg += (uint32_t)g * w; sb += (uint32_t)b * w;
                        sa += a;
                    } else {
                        sr += (uint32_t)r; sg += (uint32_t)g; sb += (uint32_t)b;
                    }
                    n++;
                }
            }
            if (!n) continue;
            if (alpha) {
                if (sa == 0) {
                    o[0] = o[1] = o[2] = o[3] = 0;
                } else {
                    uint32_t d = sa * 16, v;
                    v = (sr + d / 2) / d; o[0] = v > 255 ? 255 : (uint8_t)v;
                    v = (sg + d / 2) / d; o[1] = v > 255 ? 255 : (uint8_t)v;
                    v = (sb + d / 2) / d; o[2] = v > 255 ? 255 : (uint8_t)v;
                    o[3] = (uint8_t)((sa + n / 2) / n);
                }
            } else {
                uint32_t d = n * 16;
                o[0] = (uint8_t)((sr + d / 2) / d);
                o[1] = (uint8_t)((sg + d / 2) / d);
                o[2] = (uint8_t)((sb + d / 2) / d);
                if (och == 4) o[3] = 255;
            }
        }
    }
}

/* The output blocks of a request (see ph_request): first block and count. */
static inline void yuv_block_range(uint32_t x, uint32_t w, uint32_t shift, uint32_t *first, uint32_t *count) {
    uint32_t b0 = x >> shift, b1 = (x + w + (1u << shift) - 1) >> shift;
    *first = b0; *count = b1 - b0;
}
#endif
