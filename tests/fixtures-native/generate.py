"""Regenerates the small inputs the imaging unit tests cannot make with the
`image` crate's encoders (progressive and CMYK JPEG, lossy/animated WebP).

Run: python3 generate.py   (needs Pillow with WebP support)

Every image is the same 4-quadrant pattern (64x48): top-left red,
top-right green, bottom-left blue, bottom-right yellow, so tests can check
colours and orientation. Files are committed; this script documents them.
"""
from PIL import Image

W, H = 64, 48
COLOURS = {"tl": (255, 0, 0), "tr": (0, 255, 0), "bl": (0, 0, 255), "br": (255, 255, 0)}


def quadrants(mode="RGB"):
    im = Image.new("RGB", (W, H))
    for y in range(H):
        for x in range(W):
            key = ("t" if y < H // 2 else "b") + ("l" if x < W // 2 else "r")
            im.putpixel((x, y), COLOURS[key])
    return im.convert(mode) if mode != "RGB" else im


q = quadrants()
q.save("q_progressive.jpg", quality=95, progressive=True, subsampling=0)
# Pillow writes CMYK JPEGs the Adobe way (APP14, inverted samples).
q.convert("CMYK").save("q_cmyk.jpg", quality=95)
q.save("q_lossy.webp", quality=90, lossless=False)

# Lossy WebP with alpha: left half fully transparent.
qa = q.convert("RGBA")
for y in range(H):
    for x in range(W // 2):
        qa.putpixel((x, y), (255, 0, 0, 0))
qa.save("q_lossy_alpha.webp", quality=90, lossless=False)

# Animated WebP: first frame red, second blue.
red = Image.new("RGB", (W, H), (255, 0, 0))
blue = Image.new("RGB", (W, H), (0, 0, 255))
red.save("anim.webp", save_all=True, append_images=[blue], duration=100, loop=0, lossless=False, quality=90)

# Baseline JPEGs with restart markers (DRI + RSTn every few MCUs), 200x136
# smooth gradients, for the 1/8 DC-only JPEG path, which must follow the
# markers and match jpeg-decoder (exactly for 4:4:4; 4:2:0 differs only by
# jpeg-decoder's interpolated chroma upsampling).
g = Image.new("RGB", (200, 136))
for y in range(136):
    for x in range(200):
        g.putpixel((x, y), (x * 255 // 199, y * 255 // 135, (x + 2 * y) * 255 // 471))
g.save("restart_420.jpg", quality=90, subsampling=2, restart_marker_blocks=2)
g.save("restart_444.jpg", quality=90, subsampling=0, restart_marker_blocks=3)

# Progressive JPEGs as libjpeg writes them (its standard script: spectral
# selection and successive approximation, optimised tables per scan), for
# the 1/4 and 1/2 progressive path, which must give jpeg-decoder's samples
# exactly. Sizes leave partial MCUs; the flat top-left corner makes
# end-of-band runs; the noise elsewhere gives AC coefficients in every
# block and correction bits in the refinement scans.
import random

rng = random.Random(7)


def noisy(w, h):
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            if x < w // 3 and y < h // 3:
                px[x, y] = (90, 140, 200)
            else:
                n = rng.randrange(48)
                px[x, y] = ((x * 230 // w + n) % 256, (y * 230 // h + (n ^ 17) % 30) % 256, ((x + 3 * y) % 200 + n // 2) % 256)
    return im


noisy(121, 83).save("progressive_420.jpg", quality=90, progressive=True, subsampling=2)
noisy(99, 57).save("progressive_422.jpg", quality=95, progressive=True, subsampling=1)
noisy(67, 41).save("progressive_444.jpg", quality=100, progressive=True, subsampling=0)
noisy(121, 83).convert("L").save("progressive_gray.jpg", quality=90, progressive=True)
noisy(121, 83).save("progressive_restart.jpg", quality=85, progressive=True, subsampling=2, restart_marker_blocks=3)
