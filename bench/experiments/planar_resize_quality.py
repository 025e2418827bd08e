"""A JPEG's planes resized before or after its chroma is upsampled: what
it does to the avatar's SSIM (docs/benchmark.md, "Resizing a JPEG's planes
before the colour conversion: measured on paper, not done").

A research script, not part of the bench or the tests. It needs numpy,
Pillow and scikit-image (`python3 -m venv /tmp/venv && /tmp/venv/bin/pip
install numpy pillow scikit-image`), then, from bench/fixtures:

    /tmp/venv/bin/python ../experiments/planar_resize_quality.py \
        jpeg-1mp.jpg png-512.png png-24mp.png@1280 ...

FILE@N first scales FILE so that its long side is N. Each file's RGB is
taken as the scene; it is coded as a JPEG codes it without the
quantisation (YCbCr, chroma averaged over 2×2), then the centre square is
made into a 256² avatar two ways:

  A  chroma upsampled as libjpeg does (the triangle filter), RGB at full
     size in 8 bits, then one Lanczos3 (what ours does now);
  B8 the 8-bit planes resized on their own (Y over the crop square, Cb and
     Cr over the same square in their half-size coordinates), then RGB.

SSIM of each against two references: the scene's own square resized (a
finer sensor), and the square as a decoder shows the coded planes
(chroma upsampled, not rounded) resized, as the bench's references are
made from sharp's full-size decode.
"""
import sys, numpy as np
from PIL import Image
from skimage.metrics import structural_similarity as ssim
Image.MAX_IMAGE_PIXELS = None
S = 256

def rs(plane, box, size=S):
    im = Image.fromarray(plane.astype(np.float32), mode='F')
    return np.asarray(im.resize((size, size), Image.LANCZOS, box=box), dtype=np.float64)

def to_ycc(rgb):
    r, g, b = [rgb[..., i].astype(np.float64) for i in range(3)]
    y = 0.299*r + 0.587*g + 0.114*b
    cb = -0.168736*r - 0.331264*g + 0.5*b + 128
    cr = 0.5*r - 0.418688*g - 0.081312*b + 128
    return y, cb, cr

def to_rgb(y, cb, cr):
    r = y + 1.402*(cr-128); g = y - 0.344136*(cb-128) - 0.714136*(cr-128); b = y + 1.772*(cb-128)
    return np.stack([r, g, b], -1)

def down2(c):
    h, w = c.shape; c = c[:h//2*2, :w//2*2]
    return (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]) / 4

def fancy_up(c):
    # libjpeg h2v2 triangle: each output 3/4 nearer + 1/4 farther, per axis
    def up_axis(a, axis):
        a = np.moveaxis(a, axis, 0)
        prev = np.concatenate([a[:1], a[:-1]]); nxt = np.concatenate([a[1:], a[-1:]])
        out = np.empty((a.shape[0]*2,) + a.shape[1:])
        out[0::2] = 0.75*a + 0.25*prev; out[1::2] = 0.75*a + 0.25*nxt
        return np.moveaxis(out, 0, axis)
    return up_axis(up_axis(c, 0), 1)

def q8(x): return np.clip(np.round(x), 0, 255)

def run(path, maxside=None):
    im = Image.open(path).convert('RGB')
    if maxside and max(im.size) > maxside:
        k = maxside / max(im.size); im = im.resize((round(im.width*k)//2*2, round(im.height*k)//2*2), Image.LANCZOS)
    rgb = np.asarray(im, dtype=np.float64)
    h, w = rgb.shape[:2]; h, w = h//2*2, w//2*2; rgb = rgb[:h, :w]
    side = min(w, h); x0 = (w-side)//2//2*2; y0 = (h-side)//2//2*2
    box = (x0, y0, x0+side, y0+side)
    ref = np.stack([rs(rgb[..., i], box) for i in range(3)], -1)
    y, cb, cr = to_ycc(rgb); cb2, cr2 = down2(cb), down2(cr)
    # A: upsample chroma, RGB at full size (clamped, 8-bit), then resize
    full = q8(to_rgb(y, fancy_up(cb2)[:h, :w], fancy_up(cr2)[:h, :w]))
    A = q8(np.stack([rs(full[..., i], box) for i in range(3)], -1))
    # B: resize the planes, chroma at its own resolution, then RGB
    cbox = tuple(v/2 for v in box)
    # B8: the planes in 8 bits, as a decoder gives them, resized on their own
    B8 = q8(to_rgb(rs(q8(y), box), rs(q8(cb2), cbox), rs(q8(cr2), cbox)))
    s = lambda X: ssim(ref, X, channel_axis=2, data_range=255)
    # A reference made as a decoder shows the planes: chroma upsampled, unrounded
    upref_full = to_rgb(y, fancy_up(cb2)[:h, :w], fancy_up(cr2)[:h, :w])
    ref2 = np.stack([rs(upref_full[..., i], box) for i in range(3)], -1)
    s2 = lambda X: ssim(ref2, X, channel_axis=2, data_range=255)
    print(f'{path.split("/")[-1]:16} {w}x{h}: vs source A {s(A):.5f} B8 {s(B8):.5f} | vs upsampled A {s2(A):.5f} B8 {s2(B8):.5f} | |A-B8| mean {np.abs(A-B8).mean():.3f} max {np.abs(A-B8).max():.0f}')

for spec in sys.argv[1:]:
    p, _, m = spec.partition('@'); run(p, int(m) if m else None)
