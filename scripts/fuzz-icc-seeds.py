#!/usr/bin/env python3
"""Writes JPEG seeds with LUT-based ICC profiles (lut8 CMYK, lut16 RGB,
v4 lutAtoB RGB) embedded in APP2, so the fuzzer reaches the CLUT code of
the colour engine (moxcms). Standard library only; called by
scripts/fuzz-seed.sh. Usage: fuzz-icc-seeds.py <fixtures-native dir> <fixtures dir> <out dir>"""
import struct, sys, os

def s15(v): return struct.pack('>i', int(round(v * 65536)))

def tag_xyz(x, y, z): return b'XYZ \0\0\0\0' + s15(x) + s15(y) + s15(z)

def tag_desc(text):
    t = text.encode() + b'\0'
    return b'desc\0\0\0\0' + struct.pack('>I', len(t)) + t + b'\0' * (4 + 4 + 2 + 1 + 67)

def lut8(inp, out, grid, clut):
    d = b'mft1\0\0\0\0' + bytes([inp, out, grid, 0])
    d += b''.join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    d += bytes(range(256)) * inp + bytes(clut) + bytes(range(256)) * out
    return d

def lut16(inp, out, grid, clut, n=16):
    d = b'mft2\0\0\0\0' + bytes([inp, out, grid, 0])
    d += b''.join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    d += struct.pack('>HH', n, n)
    ramp = b''.join(struct.pack('>H', i * 65535 // (n - 1)) for i in range(n))
    d += ramp * inp + b''.join(struct.pack('>H', v) for v in clut) + ramp * out
    return d

def curve_identity(): return b'curv\0\0\0\0' + struct.pack('>I', 0)

def pad4(b): return b + b'\0' * (-len(b) % 4)

def lut_atob(inp, out, grid, clut16):
    # mAB : B curves, matrix, M curves, CLUT, A curves; we give B, CLUT, A.
    head = b'mAB \0\0\0\0' + bytes([inp, out, 0, 0])
    off = 8 + 4 + 5 * 4
    b_curves = b''.join(pad4(curve_identity()) for _ in range(out))
    clut = bytes([grid] * inp + [0] * (16 - inp)) + bytes([2, 0, 0, 0]) + b''.join(struct.pack('>H', v) for v in clut16)
    clut = pad4(clut)
    a_curves = b''.join(pad4(curve_identity()) for _ in range(inp))
    ob = off; oc = ob + len(b_curves); oa = oc + len(clut)
    return head + struct.pack('>IIIII', ob, 0, 0, oc, oa) + b_curves + clut + a_curves

def profile(version, cls, space, pcs, tags):
    table = b''; data = b''; off = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        body = pad4(body)
        table += sig + struct.pack('>II', off + len(data), len(body))
        data += body
    size = off + len(data)
    h = struct.pack('>I', size) + b'none' + struct.pack('>I', version) + cls + space + pcs
    h += b'\0' * 12 + b'acsp' + b'APPL' + b'\0' * 4 + b'none' + b'\0' * 4 + b'\0' * 8 + struct.pack('>I', 0)
    h += s15(0.9642) + s15(1.0) + s15(0.8249) + b'none' + b'\0' * 16 + b'\0' * 28
    assert len(h) == 128
    return h + struct.pack('>I', len(tags)) + table + data

def grid_points(inp, grid):
    pts = [[]]
    for _ in range(inp):
        pts = [p + [i / (grid - 1)] for p in pts for i in range(grid)]
    return pts

wtpt = (b'wtpt', tag_xyz(0.9642, 1.0, 0.8249))
# CMYK -> Lab, lut8, grid 3: L from ink coverage, a/b neutral.
cmyk = []
for c, m, y, k in grid_points(4, 3):
    L = (1 - c) * (1 - m) * (1 - y) * (1 - k)
    cmyk += [round(L * 255), 128 + round((m - c) * 60), 128 + round((y - m) * 60)]
cmyk_icc = profile(0x02100000, b'prtr', b'CMYK', b'Lab ', [(b'desc', tag_desc('fuzz cmyk lut8')), wtpt, (b'A2B0', lut8(4, 3, 3, cmyk))])
# RGB -> XYZ, lut16, grid 5 (a rough sRGB-ish mapping).
rgb = []
for r, g, b in grid_points(3, 5):
    X, Y, Z = 0.436 * r + 0.385 * g + 0.143 * b, 0.222 * r + 0.717 * g + 0.061 * b, 0.014 * r + 0.097 * g + 0.714 * b
    rgb += [min(65535, round(v * 32768)) for v in (X, Y, Z)]
rgb_icc = profile(0x02100000, b'mntr', b'RGB ', b'XYZ ', [(b'desc', tag_desc('fuzz rgb lut16')), wtpt, (b'A2B0', lut16(3, 3, 5, rgb))])
rgb4_icc = profile(0x04300000, b'mntr', b'RGB ', b'XYZ ', [(b'desc', tag_desc('fuzz rgb mAB')), wtpt, (b'A2B0', lut_atob(3, 3, 5, rgb))])
gray = [round(i / 4 * 65535) for i in range(5)] * 3
gray_icc = profile(0x02100000, b'mntr', b'GRAY', b'XYZ ', [(b'desc', tag_desc('fuzz gray')), wtpt, (b'kTRC', b'curv\0\0\0\0' + struct.pack('>IH', 1, 0x0233))])

def with_icc(jpeg, icc):
    app2 = b'ICC_PROFILE\0\x01\x01' + icc
    return jpeg[:2] + b'\xff\xe2' + struct.pack('>H', len(app2) + 2) + app2 + jpeg[2:]

def webp_with_icc(webp, icc):
    # VP8X file: set the ICC flag, put an ICCP chunk right after VP8X.
    assert webp[12:16] == b'VP8X'
    vp8x_end = 20 + struct.unpack('<I', webp[16:20])[0]
    head = bytearray(webp[:vp8x_end])
    head[20] |= 0x20
    chunk = b'ICCP' + struct.pack('<I', len(icc)) + icc + b'\0' * (len(icc) & 1)
    body = bytes(head) + chunk + webp[vp8x_end:]
    return body[:4] + struct.pack('<I', len(body) - 8) + body[8:]

native, fixtures, out = sys.argv[1:4]
rd = lambda d, f: open(os.path.join(d, f), 'rb').read()
seeds = {
    'icc-lut8-cmyk.jpg': with_icc(rd(native, 'q_cmyk.jpg'), cmyk_icc),
    'icc-lut16-rgb.jpg': with_icc(rd(native, 'q_progressive.jpg'), rgb_icc),
    'icc-v4-mab-rgb.jpg': with_icc(rd(fixtures, 'orient-6.jpg'), rgb4_icc),
    'icc-gray-gamma.jpg': with_icc(rd(fixtures, 'jpeg_gray.jpg'), gray_icc),
    'icc-lut16-rgb-alpha.webp': webp_with_icc(rd(fixtures, 'webp_alpha.webp'), rgb_icc),
}
for name, data in seeds.items():
    open(os.path.join(out, name), 'wb').write(data)
