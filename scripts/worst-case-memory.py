#!/usr/bin/env python3
"""Worst-case memory of the image pipeline: generates the largest inputs the
pipeline still accepts under the default settings (MAX_PIXELS 100 MP,
MAX_UPLOAD_BYTES 20 MiB, AVATAR_SIZE 256), in the variant of each format
that costs most memory, runs `examples/pipeline` on them and prints a
Markdown table: file size, accepted or refused, peak heap, and the wasm
memory of the upload in the worst case:

    2 MiB (module, stack, allocator) + request body + pipeline peak heap

The body is copied into wasm memory once (src/routes/upload.rs). Its worst
case is the body cap, MAX_UPLOAD_BYTES + 64 KiB: the form's other parts are
ignored, so any file can be padded up to the cap. Both totals are given
("this file": the file plus a few hundred bytes of multipart framing;
"padded": the cap), the bound is checked against the padded one.

The images are large and not committed: they go to a temporary directory
(`--out`, default /tmp/avatar-worst-case) and are reused on the next run
unless `--regenerate`. Run from the repository root:

    python3 scripts/worst-case-memory.py            # generate + run + table
    python3 scripts/worst-case-memory.py --only png # cases whose name has "png"
    python3 scripts/worst-case-memory.py --no-run   # only generate

Needs Pillow and numpy (`python3 -m pip install --user pillow numpy`) and
cargo (it builds the example with `nice -n 10 cargo build --release`).

"Largest accepted" is computed from the pipeline's memory rules, mirrored
below from src/imaging/limits.rs and src/imaging/codecs/ (keep them in
step). Each boundary is checked, not assumed: for every "max" case the
script also writes the same file with its header patched one step larger
("+1" cases, never decoded), which the pipeline must refuse with
TooMuchMemory; the run fails if a "max" case is refused or a "+1" case is
accepted.
"""
from __future__ import annotations

import argparse
import io
import math
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MiB = 1024 * 1024

# ---------------------------------------------------------------------------
# The pipeline's rules (mirror of src/imaging/limits.rs and codecs/).

BOUND = 100_000_000  # the requirement: wasm memory of one upload
BASELINE = 2 * MiB  # wasm module data, stack, allocator, JS glue
MAX_UPLOAD_BYTES = 20 * MiB  # config.rs DEFAULT_MAX_UPLOAD_BYTES
MULTIPART_OVERHEAD = 64 * 1024  # config.rs MULTIPART_OVERHEAD
MAX_PIXELS = 100_000_000
SIZE = 256  # default avatar size


# limits.rs: the pipeline may hold PIPELINE_BUDGET at once (what the bound
# leaves after the baseline and a body at the cap); a decoder gets that
# less SLACK and less the collector's region for the crop square.
PIPELINE_BUDGET = BOUND - BASELINE - (MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD)
SLACK = 2 * MiB
REGION_BUDGET = 24 * MiB
MAX_ICC_BYTES = MiB
PNG_METADATA_BYTES = 4 * MAX_ICC_BYTES  # codecs/png.rs METADATA_BYTES


def shrink_factor(bw: int, bh: int, ch: int, size: int) -> int:
    """resize.rs shrink_factor."""
    k = max(1, int(max(bw, bh) / (2.0 * max(size, 1))))
    while True:
        w, h = -(-bw // k), -(-bh // k)
        if w * h * ch * 2 <= REGION_BUDGET or k >= max(bw, bh):
            return k
        k += 1


def region_bytes(side: float, size: int, ch: int) -> int:
    """resize.rs region_bytes."""
    c = math.ceil(max(side, 1.0))
    best = 0
    for b in range(max(c - 1, 1), c + 2):
        out = -(-b // shrink_factor(b, b, ch, size))
        best = max(best, out * out * ch * 2 + out * ch * 8 + b * ch)
    return best


def decode_budget(side: float, size: int, ch: int) -> int:
    """decoding.rs Plan::decode_budget (side: the crop square, decoded)."""
    return max(0, PIPELINE_BUDGET - SLACK - region_bytes(side, size, ch))


def jpeg_estimate(w: int, h: int, sampling: list[tuple[int, int]], progressive: bool, n: int,
                  icc_bytes: int = 0) -> int:
    """codecs/jpeg/decode.rs memory_estimate."""
    hmax = max(s[0] for s in sampling)
    vmax = max(s[1] for s in sampling)
    mx = -(-w // (8 * hmax))
    my = -(-h // (8 * vmax))
    total = 0
    for hs, vs in sampling:
        blocks = mx * hs * my * vs
        if progressive:
            total += blocks * 64 * 2
        total += blocks * n * n
    out_ch = {1: 1, 3: 3}.get(len(sampling), 4)
    sc = lambda v: -(-(v * n) // 8)
    icc = icc_bytes + (2 * icc_bytes if icc_bytes <= MAX_ICC_BYTES else 0)
    return total + sc(w) * sc(h) * out_ch + icc


def jpeg_ours_need(w: int, h: int, sampling: list[tuple[int, int]], progressive: bool, n: int,
                   icc_bytes: int = 0) -> int:
    """codecs/jpeg/scaled/mod.rs memory_need (our decoder at 1/4, 1/2, full size)."""
    hmax = max(s[0] for s in sampling)
    vmax = max(s[1] for s in sampling)
    mx = -(-w // (8 * hmax))
    my = -(-h // (8 * vmax))
    blocks = sum(mx * hs * my * vs for hs, vs in sampling)
    coefficients = 2 * (n * n + 1) + 8 if progressive else 0
    comps = len(sampling)
    icc = icc_bytes + (2 * icc_bytes if icc_bytes <= MAX_ICC_BYTES else 0)
    return blocks * (n * n + coefficients) + 3 * comps * -(-(w * n) // 8) + 3 * comps + icc


def jpeg_fits(w, h, sampling, progressive, crop_side, size=SIZE, icc_bytes=0, n_fixed=None) -> bool:
    """codecs/jpeg/mod.rs decode: finest useful scale, coarser while neither
    decoder fits. The progressive files carry Adobe APP14 (see save_jpeg),
    which our decoder declines: only jpeg-decoder's estimate counts for them.
    `n_fixed`: fits at exactly that scale (the finest, for a small crop)."""
    side = min(crop_side or min(w, h), w, h)
    budget = lambda n: decode_budget(side * n / 8, size, 3)
    est = lambda n: jpeg_estimate(w, h, sampling, progressive, n, icc_bytes)
    ours = lambda n: not progressive and n > 1 and jpeg_ours_need(w, h, sampling, progressive, n, icc_bytes) <= budget(n)
    fits = lambda n: ours(n) or est(n) <= budget(n)
    if n_fixed:
        return fits(n_fixed)
    n = next((n for n in (1, 2, 4, 8) if side * n >= 8 * size), 8)
    while n > 1 and not fits(n):
        n //= 2
    return fits(n)


def full_fits(w: int, h: int, need: int, crop_side=None, size=SIZE, ch=4) -> bool:
    """limits.rs check_full_decode with Plan::decode_budget(1.0, ch)."""
    side = min(crop_side or min(w, h), w, h)
    return need <= decode_budget(side, size, ch)


def largest(fits, aspect: float, max_w: int = 65535, max_h: int = 65535, step: int = 1):
    """Largest w×h on the line w ≈ aspect·h (h a multiple of `step`) with
    fits(w, h) and w·h ≤ MAX_PIXELS, and the next size on that line (which
    does not fit): ((w, h), (w', h'))."""
    def at(i):
        h = i * step
        return min(max_w, max(1, int(h * aspect))), h

    ok = lambda i: at(i)[0] * at(i)[1] <= MAX_PIXELS and fits(*at(i))
    lo, hi = 1, max_h // step
    assert ok(lo), "nothing fits"
    while lo < hi:  # ok(lo), and ok is monotone: find the last ok
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return at(lo), at(lo + 1)


# ---------------------------------------------------------------------------
# Pictures (compressible: the file-size cap must not be what limits them).


def picture(w: int, h: int, channels: int = 3, detail: bool = True) -> np.ndarray:
    """A smooth colour picture with some structure, uint8 h×w×channels."""
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    out = np.empty((h, w, channels), np.uint8)
    out[..., 0] = (255 * x).astype(np.uint8)
    if channels > 1:
        out[..., 1] = (255 * y).astype(np.uint8)
    if channels > 2:
        b = 0.5 + 0.5 * np.sin(12 * x + 7 * y) if detail else 0.5 + 0 * (x + y)
        out[..., 2] = (255 * b).astype(np.uint8)
    if channels > 3:
        # A soft-edged disc: real transparency.
        d = np.sqrt((x - 0.5) ** 2 + (y - 0.5) ** 2)
        out[..., 3] = (255 * np.clip((0.5 - d) * 8, 0, 1)).astype(np.uint8)
    return out


# ---------------------------------------------------------------------------
# Writers Pillow lacks: interlaced / 16-bit PNG, iCCP, RLE8 BMP, JPEG ICC.


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path: str, rows_of_pass, w: int, h: int, colour_type: int, depth: int, interlaced: bool,
              iccp: bytes | None = None) -> None:
    """Streams IDAT from `rows_of_pass(x0, y0, dx, dy)`, which yields filtered
    row byte strings (filter byte included) of that Adam7 pass (or the
    whole image: 0, 0, 1, 1)."""
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 1 if interlaced else 0)))
        if iccp is not None:
            f.write(png_chunk(b"iCCP", b"bomb\x00\x00" + zlib.compress(iccp, 9)))
        comp = zlib.compressobj(6)
        passes = ([(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
                  if interlaced else [(0, 0, 1, 1)])
        pending = []
        size = 0
        for p in passes:
            for row in rows_of_pass(*p):
                pending.append(comp.compress(row))
                size += len(pending[-1])
                if size > 1 << 20:
                    f.write(png_chunk(b"IDAT", b"".join(pending)))
                    pending, size = [], 0
        pending.append(comp.flush())
        f.write(png_chunk(b"IDAT", b"".join(pending)))
        f.write(png_chunk(b"IEND", b""))


def png_rows(img: np.ndarray):
    """rows_of_pass for an h×w×c array (uint8 or big-endian uint16): filter
    Up (2) after the first row, which makes a smooth picture compress."""
    def rows(x0, y0, dx, dy):
        sub = img[y0::dy, x0::dx]
        if sub.size == 0:
            return
        raw = sub.reshape(sub.shape[0], -1)
        if raw.dtype != np.uint8:
            raw = raw.astype(">u2").view(np.uint8).reshape(sub.shape[0], -1)
        prev = None
        for r in raw:
            if prev is None:
                yield b"\x00" + r.tobytes()
            else:
                yield b"\x02" + (r - prev).tobytes()  # uint8 wraps: mod 256
            prev = r
    return rows


def patch_png_size(src: str, dst: str, w: int, h: int) -> None:
    b = bytearray(open(src, "rb").read())
    b[16:24] = struct.pack(">II", w, h)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])) & 0xFFFFFFFF)
    open(dst, "wb").write(b)


def jpeg_sof(b: bytes) -> int:
    """Offset of the SOF0/SOF2 segment marker."""
    pos = 2
    while pos < len(b):
        assert b[pos] == 0xFF
        marker = b[pos + 1]
        if marker in (0xC0, 0xC1, 0xC2):
            return pos
        pos += 2 + struct.unpack(">H", b[pos + 2:pos + 4])[0]
    raise ValueError("no SOF")


def patch_jpeg_size(src: str, dst: str, w: int, h: int) -> None:
    b = bytearray(open(src, "rb").read())
    p = jpeg_sof(b)
    b[p + 5:p + 9] = struct.pack(">HH", h, w)
    open(dst, "wb").write(b)


def jpeg_with_icc(jpeg: bytes, total: int) -> bytes:
    """`jpeg` with APP2 ICC_PROFILE segments of `total` bytes (zeros) after
    SOI: as many full 65 519-byte chunks as that takes (≤ 254, as
    jpeg-decoder assembles at most 254)."""
    per = 65535 - 2 - 14
    count = min(254, -(-total // per))
    segs = []
    for i in range(count):
        data = b"\x00" * min(per, total - i * per)
        segs.append(b"\xFF\xE2" + struct.pack(">H", 2 + 14 + len(data)) + b"ICC_PROFILE\x00" + bytes([i + 1, count]) + data)
    return jpeg[:2] + b"".join(segs) + jpeg[2:]


def write_bmp_rle8(path: str, w: int, h: int) -> None:
    """An 8-bit RLE BMP: each row a few runs of palette indices."""
    palette = b"".join(bytes([i, 255 - i, (i * 7) & 255, 0]) for i in range(256))
    rows = []
    for y in range(h):
        row = bytearray()
        left = w
        c = y & 255
        while left:
            n = min(255, left)
            row += bytes([n, c])
            c = (c + 1) & 255
            left -= n
        row += b"\x00\x00"  # end of line
        rows.append(bytes(row))
    data = b"".join(rows) + b"\x00\x01"  # end of bitmap
    off = 14 + 40 + len(palette)
    header = b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off)
    dib = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(data), 2835, 2835, 256, 0)
    open(path, "wb").write(header + dib + palette + data)


def patch_bmp_size(src: str, dst: str, w: int, h: int) -> None:
    b = bytearray(open(src, "rb").read())
    b[18:26] = struct.pack("<ii", w, h)
    open(dst, "wb").write(b)


def patch_gif_screen(src: str, dst: str, w: int, h: int) -> None:
    b = bytearray(open(src, "rb").read())
    b[6:10] = struct.pack("<HH", w, h)
    open(dst, "wb").write(b)


def patch_webp_vp8x(src: str, dst: str, w: int, h: int) -> None:
    """Canvas size of an extended (VP8X) WebP, and the size in a still
    image's lossy frame header (which must match the canvas)."""
    b = bytearray(open(src, "rb").read())
    assert b[12:16] == b"VP8X"
    b[24:27] = (w - 1).to_bytes(3, "little")
    b[27:30] = (h - 1).to_bytes(3, "little")
    pos = 12
    while pos + 8 <= len(b):
        n = struct.unpack("<I", b[pos + 4:pos + 8])[0]
        if b[pos:pos + 4] == b"VP8 ":
            b[pos + 14:pos + 18] = struct.pack("<HH", w, h)
        pos += 8 + n + (n & 1)
    open(dst, "wb").write(b)


def patch_webp_size(src: str, dst: str, w: int, h: int) -> None:
    b = bytearray(open(src, "rb").read())
    kind = bytes(b[12:16])
    if kind == b"VP8X":
        return patch_webp_vp8x(src, dst, w, h)
    if kind == b"VP8L":
        bits = struct.unpack("<I", b[21:25])[0]
        bits = (bits & ~0xFFFFFFF) | (w - 1) | ((h - 1) << 14)
        b[21:25] = struct.pack("<I", bits)
    elif kind == b"VP8 ":
        b[26:28] = struct.pack("<H", w)
        b[28:30] = struct.pack("<H", h)
    open(dst, "wb").write(b)


def to_webp_vp8x(path: str) -> None:
    """Rewrites a simple WebP (VP8/VP8L first chunk) as extended, with a
    VP8X header (as written for alpha, ICC, animation)."""
    b = open(path, "rb").read()
    if b[12:16] == b"VP8X":
        return
    im = Image.open(path)
    w, h = im.size
    flags = 0x10 if im.mode == "RGBA" else 0
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([flags, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + b[12:]
    open(path, "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)


# ---------------------------------------------------------------------------
# Cases.


class Case:
    def __init__(self, name, describe, make, dims, crop_side=None, size=SIZE, over=None, note="", unmetered=False):
        self.name = name
        self.describe = describe
        self.make = make  # (path, w, h) -> None
        self.dims = dims  # (w, h)
        self.crop_side = crop_side  # centred square crop box, upright pixels
        self.size = size
        self.over = over  # (patch function, (w, h)) for the "+1" twin
        self.note = note
        # Run without the work budget: the file is small (flat content) but
        # stands for a photo whose bytes would allow the decode it needs.
        self.unmetered = unmetered

    def path(self, out: str, suffix="") -> str:
        """File name with the size (a change of the rules gives new files)."""
        ext = self.name.split("-")[0]
        return os.path.join(out, f"{self.name}-{self.dims[0]}x{self.dims[1]}{suffix}.{ext}")


def save_jpeg(path, w, h, subsampling, progressive, channels=3, icc_bytes=0, quality=90):
    img = picture(w, h, channels)
    im = Image.fromarray(img[..., 0] if channels == 1 else img)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, subsampling=subsampling, progressive=progressive, optimize=False)
    data = buf.getvalue()
    if progressive:
        # An Adobe APP14 segment (transform 1 = YCbCr, 0 for grey: what the
        # file is anyway) makes the DC-only 1/8 decoder decline the file,
        # so jpeg-decoder with all coefficients, the worst case, decodes it.
        # Without it a progressive JPEG of any size is taken DC-only.
        transform = 0 if channels == 1 else 1
        data = data[:2] + b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00" + bytes([transform]) + data[2:]
    if icc_bytes:
        data = jpeg_with_icc(data, icc_bytes)
    open(path, "wb").write(data)


SAMPLING = {"420": [(2, 2), (1, 1), (1, 1)], "444": [(1, 1)] * 3, "gray": [(1, 1)]}
PIL_SUB = {"420": 2, "444": 0, "gray": 0}


def jpeg_case(name, describe, kind, progressive, crop_side=None, dims=None, icc_bytes=0, aspect=4 / 3,
              n_fixed=None, unmetered=False):
    sampling = SAMPLING[kind]
    channels = 1 if kind == "gray" else 3
    icc_kept = (icc_bytes // 65519) * 65519 + (icc_bytes % 65519)  # what the header counts
    fits = lambda w, h: jpeg_fits(w, h, sampling, progressive, crop_side, icc_bytes=icc_kept, n_fixed=n_fixed)
    over = None
    if dims is None:
        dims, nxt = largest(fits, aspect, step=16)
        # The next size is refused, unless a coarser scale takes it (n_fixed).
        over = None if n_fixed else (patch_jpeg_size, nxt)
    make = lambda p, w, h: save_jpeg(p, w, h, PIL_SUB[kind], progressive, channels, icc_bytes)
    return Case(name, describe, make, dims, crop_side, over=over, unmetered=unmetered)


def png_case(name, describe, colour_type, depth, interlaced, dims=None, crop_side=None, iccp=0, aspect=1.0, size=SIZE):
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    out_ch = 4 if channels in (2, 4) else 3  # linear channels of the region
    over = None
    if dims is None:
        def fits(w, h):
            need = (PNG_METADATA_BYTES + MAX_ICC_BYTES if iccp else 0) + 2 * w * 8 + w * h * channels
            return full_fits(w, h, need, crop_side, size, out_ch)
        dims, nxt = largest(fits, aspect)
        over = (patch_png_size, nxt)

    def make(path, w, h):
        img = picture(w, h, max(channels, 3) if channels != 2 else 3)
        if channels == 1:
            img = img[..., :1]
        elif channels == 2:
            img = np.stack([img[..., 0], picture(w, h, 4)[..., 3]], axis=-1)
        elif channels == 4 and img.shape[2] == 3:
            img = picture(w, h, 4)
        if depth == 16:
            img = img.astype(np.uint16) * 257
        write_png(path, png_rows(img), w, h, colour_type, depth, interlaced,
                  iccp=b"\x00" * iccp if iccp else None)
    return Case(name, describe, make, dims, crop_side, size=size, over=over)


def webp_tenths(lossless: bool, alpha: bool, animated: bool) -> int:
    """codecs/webp/mod.rs memory_need for WebP, tenths of a byte per pixel."""
    if animated:
        return 130
    if lossless:
        return 80
    return 110 if alpha else 50


def webp_case(name, describe, lossless, alpha, animated=False, frames=1, crop_side=None, palette=False, aspect=4 / 3):
    tenths = webp_tenths(lossless, alpha, animated)
    fits = lambda w, h: full_fits(w, h, -(-(w * h * tenths) // 10), crop_side)
    dims, nxt = largest(fits, aspect, max_w=16383, max_h=16383)
    over = (patch_webp_size, nxt)

    def make(path, w, h):
        img = picture(w, h, 4 if alpha else 3)
        mode = "RGBA" if alpha else "RGB"
        if palette:
            im = Image.fromarray(img, mode).quantize(16).convert(mode)
        else:
            im = Image.fromarray(img, mode)
        kw = dict(lossless=lossless, quality=80 if not lossless else 20, method=0 if lossless else 2, exact=False)
        if animated:
            seq = [im] + [Image.fromarray(np.roll(img, 16 * i, axis=1), mode) for i in range(1, frames)]
            im.save(path, "WEBP", save_all=True, append_images=seq[1:], duration=100, loop=0, **kw)
        else:
            im.save(path, "WEBP", **kw)
            to_webp_vp8x(path)  # extended header, so "+1" can patch the canvas
    return Case(name, describe, make, dims, crop_side, over=over)


def gif_need(w: int, h: int, frame: tuple[int, int, int, int]) -> int:
    """codecs/gif.rs memory_need for GIF."""
    left, top, fw, fh = frame
    direct = left == 0 and fw == w and top + fh <= h
    return 4 * w * h + fw * fh + (0 if direct else 4 * fw * fh)


def gif_case(name, describe, frames, crop_side=None, frame_scale=1.0, aspect=4 / 3):
    """Animated GIF at the largest accepted screen; the first frame's sides
    are `frame_scale` × the screen's (the screen is patched to differ)."""
    frame_of = lambda w, h: (0, 0, max(1, int(w * frame_scale)), max(1, int(h * frame_scale)))
    fits = lambda w, h: full_fits(w, h, gif_need(w, h, frame_of(w, h)), crop_side)
    dims, nxt = largest(fits, aspect)
    over = (patch_gif_screen, nxt) if frame_scale == 1.0 else None

    def make(path, w, h):
        _, _, fw, fh = frame_of(w, h)
        img = picture(fw, fh, 3, detail=False)
        base = Image.fromarray(img).quantize(8)
        seq = [base] + [Image.fromarray(np.roll(img, 64 * i, axis=1)).quantize(8) for i in range(1, frames)]
        base.save(path, "GIF", save_all=True, append_images=seq[1:], duration=100, loop=0, optimize=False)
        if (fw, fh) != (w, h):
            patch_gif_screen(path, path, w, h)
    return Case(name, describe, make, dims, crop_side, over=over)


def bmp_case(name, describe, mode, dims=None, crop_side=None, aspect=1.0):
    over = None
    if dims is None:
        fits = lambda w, h: full_fits(w, h, 4 * w * h, crop_side)
        dims, nxt = largest(fits, aspect)
        over = (patch_bmp_size, nxt)

    def make(path, w, h):
        if mode == "rle8":
            write_bmp_rle8(path, w, h)
            return
        img = picture(w, h, 4 if mode == "RGBA" else 3)
        im = Image.fromarray(img, "RGBA" if mode == "RGBA" else "RGB")
        if mode == "1":
            im = im.convert("1")
        elif mode == "P":
            im = im.quantize(256)
        im.save(path, "BMP")
    return Case(name, describe, make, dims, crop_side, over=over)


def cases() -> list[Case]:
    icc_bomb = 254 * 65519  # the most ICC chunks jpeg-decoder assembles, full
    c = [
        # JPEG: the decoder's planes + output (+ progressive coefficients,
        # + ICC chunks) must fit the budget at the scale used; baseline
        # always fits at some scale, so any size up to 100 MP is accepted.
        # The progressive files carry Adobe APP14 (see save_jpeg): plain
        # ones are decoded DC-only at 1/8 and are accepted up to 100 MP.
        jpeg_case("jpeg-prog420-max", "progressive 4:2:0, largest accepted", "420", True),
        jpeg_case("jpeg-prog444-max", "progressive 4:4:4, largest accepted", "444", True),
        jpeg_case("jpeg-proggray-max", "progressive greyscale, largest accepted", "gray", True),
        jpeg_case("jpeg-prog420-max-crop", "progressive 4:2:0, largest accepted, 256 px crop", "420", True,
                  crop_side=256),
        jpeg_case("jpeg-prog420-icc", "progressive 4:2:0 + 254 ICC chunks (16.6 MB), largest accepted", "420", True,
                  icc_bytes=icc_bomb),
        jpeg_case("jpeg-base444-crop", "baseline 4:4:4, largest decoded at full scale by our decoder (256 px crop)", "444", False,
                  crop_side=256, n_fixed=8, unmetered=True),
        jpeg_case("jpeg-base420-100mp", "baseline 4:2:0 10000×10000", "420", False, dims=(10000, 10000)),
        jpeg_case("jpeg-base420-100mp-crop", "baseline 4:2:0 10000×10000, 256 px crop", "420", False,
                  dims=(10000, 10000), crop_side=256),
        jpeg_case("jpeg-base444-100mp-crop", "baseline 4:4:4 10000×10000, 256 px crop", "444", False,
                  dims=(10000, 10000), crop_side=256),
        jpeg_case("jpeg-base420-100mp-icc", "baseline 4:2:0 10000×10000 + 254 ICC chunks, 256 px crop", "420", False,
                  dims=(10000, 10000), crop_side=256, icc_bytes=icc_bomb),
        jpeg_case("jpeg-base420-pano", "baseline 4:2:0 65500×1526 panorama (libjpeg's widest)", "420", False,
                  dims=(65500, 1526)),
        # PNG: interlaced decoded in full (channels × pixels); non-interlaced
        # streamed.
        png_case("png-interlaced-rgba-max", "interlaced 8-bit RGBA, largest accepted", 6, 8, True),
        png_case("png-interlaced-rgba-max-crop", "interlaced 8-bit RGBA, largest accepted, 1023 px crop", 6, 8, True,
                 crop_side=1023),
        png_case("png-interlaced-rgba16-max", "interlaced 16-bit RGBA, largest accepted", 6, 16, True),
        png_case("png-interlaced-gray-max", "interlaced 8-bit grey, largest accepted", 0, 8, True),
        png_case("png-interlaced-rgba-iccp", "interlaced 8-bit RGBA + 4 MiB iCCP, largest accepted, 1023 px crop",
                 6, 8, True, iccp=4 * MiB - 64 * 1024, crop_side=1023),
        png_case("png-rgba16-100mp", "non-interlaced 16-bit RGBA 10000×10000", 6, 16, False, dims=(10000, 10000)),
        png_case("png-rgba16-pano", "non-interlaced 16-bit RGBA 65535×1525", 6, 16, False, dims=(65535, 1525)),
        # WebP, GIF, BMP: decoded in full, estimate per pixel × pixels.
        webp_case("webp-lossless-max", "lossless RGBA, largest accepted", True, True),
        webp_case("webp-lossless-opaque-max", "lossless RGB (opaque), largest accepted", True, False),
        webp_case("webp-lossless-palette-max", "lossless 16-colour palette, largest accepted", True, False,
                  palette=True),
        webp_case("webp-lossy-max", "lossy RGB, largest accepted", False, False),
        webp_case("webp-lossy-alpha-max", "lossy + alpha, largest accepted", False, True),
        webp_case("webp-lossy-alpha-max-crop", "lossy + alpha, largest accepted, 1023 px crop", False, True,
                  crop_side=1023),
        webp_case("webp-animated-max", "animated lossy, 4 frames, largest accepted", False, False, animated=True,
                  frames=4),
        webp_case("webp-animated-alpha-max", "animated lossy + alpha, 3 frames, largest accepted", False, True,
                  animated=True, frames=3),
        webp_case("webp-animated-lossless-max", "animated lossless RGBA, 3 frames, largest accepted", True, True,
                  animated=True, frames=3),
        gif_case("gif-animated-max", "animated, 6 frames, largest accepted", 6),
        gif_case("gif-animated-max-crop", "animated, 6 frames, largest accepted, 1023 px crop", 6, crop_side=1023),
        # The first frame need not match the logical screen: image decodes
        # it into a buffer of its own and composites it.
        gif_case("gif-small-first-frame", "first frame ½ the screen's sides, largest accepted", 6, frame_scale=0.5),
        gif_case("gif-large-first-frame", "first frame 1.25× the screen's sides, largest accepted", 3,
                 frame_scale=1.25),
        bmp_case("bmp-1bit-max", "1-bit, largest accepted", "1"),
        bmp_case("bmp-rle8-max", "8-bit RLE, largest accepted", "rle8"),
        bmp_case("bmp-rle8-max-crop", "8-bit RLE, largest accepted, 1023 px crop", "rle8", crop_side=1023),
        bmp_case("bmp-24bit-20mib", "24-bit, largest within 20 MiB", "RGB", dims=(2640, 2640)),
        bmp_case("bmp-32bit-20mib", "32-bit RGBA, largest within 20 MiB", "RGBA", dims=(2288, 2288)),
        # Over the default body cap (refused before the pipeline; shown for
        # operators who raise MAX_UPLOAD_BYTES).
        bmp_case("bmp-24bit-max", "24-bit, largest the pipeline accepts (over 20 MiB)", "RGB"),
    ]
    # Not the default: AVATAR_SIZE=2048 keeps a region of up to
    # REGION_BUDGET (24 MiB) for the Lanczos step.
    c.append(png_case("png-interlaced-rgba-2048", "interlaced 8-bit RGBA, largest accepted, AVATAR_SIZE=2048", 6, 8,
                      True, size=2048))
    c.append(png_case("png-rgba-4096-2048", "non-interlaced 8-bit RGBA 4096×4096, AVATAR_SIZE=2048", 6, 8, False,
                      dims=(4096, 4096), size=2048))
    return c


# ---------------------------------------------------------------------------


def run_pipeline(exe: str, path: str, case: Case, dims, runs: int = 1) -> tuple[bool, int, int, str]:
    """Accepted?, lowest and highest peak heap of `runs` runs, the output."""
    args = [exe, f"--size={case.size}"] + (["--unmetered"] if case.unmetered else [])
    if case.crop_side:
        s = min(case.crop_side, *dims)
        args.append(f"--crop={(dims[0] - s) // 2},{(dims[1] - s) // 2},{s},{s}")
    peaks = []
    for _ in range(runs):
        out = subprocess.run(args + [path], capture_output=True, text=True, check=True).stdout.strip()
        peaks.append(int(re.search(r"peak_bytes=(\d+)", out).group(1)))
    return (": refused:" not in out), min(peaks), max(peaks), out


# Natively jpeg-decoder hands rows to a worker thread per component through
# unbounded channels; rows waiting there add a scheduling-dependent amount
# to the peak. On wasm32 it has no threads and decodes each row at once, so
# the wasm peak is at most the lowest native one: JPEG runs RUNS times, the
# bound uses the lowest, the table shows the highest too.
JPEG_RUNS = 5


def fmt_mib(n: int) -> str:
    return f"{n / MiB:.1f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/avatar-worst-case")
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--no-run", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    todo = [c for c in cases() if args.only in c.name]
    for c in todo:
        p = c.path(args.out)
        if args.regenerate or not os.path.exists(p):
            print(f"generating {os.path.basename(p)} {c.dims[0]}×{c.dims[1]}", file=sys.stderr, flush=True)
            c.make(p + ".tmp", *c.dims)
            os.replace(p + ".tmp", p)
        if c.over:
            c.over[0](p, c.path(args.out, "+1"), *c.over[1])
    if args.no_run:
        return

    subprocess.run(["nice", "-n", "10", "cargo", "build", "--release", "-q", "--example", "pipeline"], cwd=ROOT,
                   check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "pipeline")

    cap = MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
    print(f"PIPELINE_BUDGET {PIPELINE_BUDGET:,} B ({fmt_mib(PIPELINE_BUDGET)}); bound {BOUND:,} B; "
          f"total = {fmt_mib(BASELINE)} + body + peak heap\n")
    print("| input | size | file | accepted? | peak heap | total (this file) | total (body padded to cap) |")
    print("|---|---|---:|---|---:|---:|---:|")
    failures = []
    worst = 0
    for c in todo:
        p = c.path(args.out)
        fsize = os.path.getsize(p)
        runs = JPEG_RUNS if c.name.startswith("jpeg") else 1
        ok, peak, peak_max, out = run_pipeline(exe, p, c, c.dims, runs)
        within_cap = fsize <= MAX_UPLOAD_BYTES
        body = fsize + 512  # multipart framing and a crop box
        total_file = BASELINE + body + peak
        total_cap = BASELINE + cap + peak
        if ok and within_cap and c.size == SIZE:
            worst = max(worst, total_cap)
            if total_cap > BOUND:
                failures.append(f"{c.name}: {total_cap:,} B > {BOUND:,} B")
        if not ok and c.over:
            failures.append(f"{c.name} refused, expected accepted: {out}")
        if ok:
            verdict = "yes" if within_cap else "no: over 20 MiB body cap"
        else:
            verdict = "refused: " + out.split("refused: ", 1)[1].split(" |")[0]
        crop = f", crop {c.crop_side}²" if c.crop_side else ""
        mark = " ⚠" if total_cap > BOUND and ok else ""
        print(f"| `{c.name}` {c.describe}{crop} | {c.dims[0]}×{c.dims[1]} | {fsize / MiB:.2f} MiB | {verdict} | "
              f"{fmt_mib(peak)}{f' ({fmt_mib(peak_max)})' if peak_max - peak > 0.05 * MiB else ''} | "
              f"{total_file / 1e6:.1f} MB | {total_cap / 1e6:.1f} MB{mark} |", flush=True)
        if c.over:
            ok2, _, _, out2 = run_pipeline(exe, c.path(args.out, "+1"), c, c.over[1])
            w2, h2 = c.over[1]
            if ok2 or "too large to process" not in out2:  # TooMuchMemory
                failures.append(f"{c.name}+1 ({w2}×{h2}) not refused for memory: {out2}")
    print(f"\nworst accepted (default settings, body padded to the cap): {worst:,} B = {worst / 1e6:.1f} MB "
          f"(bound {BOUND / 1e6:.0f} MB)")
    print("every '+1' twin (the next size up, same aspect) was refused for memory" if not any("+1" in f for f in failures)
          else "")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
