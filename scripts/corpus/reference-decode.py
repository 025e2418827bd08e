#!/usr/bin/env python3
"""Reference decodes of the corpus files sharp cannot read (BMP, ICO).

sharp (libvips) has no BMP or ICO loader, so for those two formats the
reference decoder is Pillow: it is independent of the `image` crate the
service decodes BMP with (a shared decoder would hide that decoder's bugs),
and it covers what the suites test: BMP core/OS/2/V3/V4/V5 headers, 1-32 bit,
RLE4/RLE8/RLE24, bit fields, top-down rows, ICC-carrying V5 headers; ICO with
BMP entries (XOR + AND mask, 32-bit alpha) and PNG entries, taking the
largest entry as browsers and AnqiCMS do. Its choices, where the formats
leave room: a 32-bit BI_RGB bitmap is opaque (the fourth byte is padding, as
browsers show it); truncated files are refused (LOAD_TRUNCATED_IMAGES off).

(bmp/bmpsuite has a better reference: the pictures its author says each file
should give, copied by fetch-corpus.mjs into tests/corpus/ref/bmpsuite/;
for those files only Pillow's outcome is recorded, "png": false.)

For every BMP/ICO in tests/corpus/MANIFEST.json this writes
tests/corpus/ref/pillow/<file>.png, the full decoded picture (RGBA when it has any
transparency, else RGB; 8 bits), and records the outcome in
tests/corpus/ref/pillow/INDEX.json: {"ok": true, "width", "height", "mode"} or
{"ok": false, "error"}. tests/integration/corpus.test.mjs turns these into
reference avatars with the same JS Lanczos as for the other formats.

    python3 -m venv /tmp/corpus-venv
    /tmp/corpus-venv/bin/pip install -r scripts/corpus/requirements.txt
    /tmp/corpus-venv/bin/python scripts/corpus/reference-decode.py
"""
import json
import os
import shutil
import sys
import warnings

import PIL
from PIL import Image, ImageFile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CORPUS = os.path.join(ROOT, 'tests', 'corpus')
REF = os.path.join(CORPUS, 'ref', 'pillow')
FORMATS = ('bmp/', 'ico/')

ImageFile.LOAD_TRUNCATED_IMAGES = False
# The suites hold dimension bombs on purpose; the service's own limit
# (100 MP) is far below Pillow's default guard anyway.
Image.MAX_IMAGE_PIXELS = 100_000_000


def decode(path):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        im = Image.open(path)
        if im.format == 'ICO':
            # The largest entry (Pillow's default size is the largest; say so).
            im.size = max(im.info.get('sizes') or [im.size], key=lambda s: s[0] * s[1])
        im.load()
        mode = im.mode
        rgba = im.convert('RGBA')
    alpha = rgba.getchannel('A')
    lo, _ = alpha.getextrema()
    out = rgba if lo < 255 else rgba.convert('RGB')
    return out, mode


def main():
    manifest = json.load(open(os.path.join(CORPUS, 'MANIFEST.json')))
    shutil.rmtree(REF, ignore_errors=True)
    index = {'decoder': f'Pillow {PIL.__version__}', 'files': {}}
    for rel in sorted(manifest['files']):
        if not rel.startswith(FORMATS):
            continue
        try:
            im, mode = decode(os.path.join(CORPUS, rel))
        except Exception as e:  # noqa: BLE001 - any failure is the outcome
            index['files'][rel] = {'ok': False, 'error': f'{type(e).__name__}: {e}'[:200]}
            continue
        if rel.startswith('bmp/bmpsuite/'):
            # Compared with the suite's own renderings instead; the outcome
            # is recorded for information only.
            index['files'][rel] = {'ok': True, 'width': im.width, 'height': im.height, 'mode': mode, 'png': False}
            continue
        dst = os.path.join(REF, rel + '.png')
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        im.save(dst, format='PNG', compress_level=9)
        index['files'][rel] = {'ok': True, 'width': im.width, 'height': im.height, 'mode': mode}
    with open(os.path.join(REF, 'INDEX.json'), 'w') as f:
        f.write('{\n "decoder": %s,\n "files": {\n' % json.dumps(index['decoder']))
        f.write(',\n'.join(f'  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}' for k, v in index['files'].items()))
        f.write('\n }\n}\n')
    ok = sum(1 for v in index['files'].values() if v['ok'])
    print(f"{index['decoder']}: {ok} decoded, {len(index['files']) - ok} refused; wrote tests/corpus/ref/pillow/")


if __name__ == '__main__':
    sys.exit(main())
