// Sanity of the fixtures and test helpers themselves (no worker needed):
// the manifest's expected colours agree with an independent decoder
// (sharp/libvips with littlecms), the hostile files are what they claim,
// and the token helper produces what AnqiCMS would.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import sharp from 'sharp';
import { MANIFEST, fixture } from '../lib/worker.mjs';
import { decodeRGBA, gridMeans, gridDiff, imageInfo, pngInfo, jpegInfo, webpInfo } from '../lib/images.mjs';
import { mintToken, verifyToken, claimsUserAndExp, nowSec } from '../lib/token.mjs';

describe('fixtures', () => {
  const accepted = Object.entries(MANIFEST).filter(([, m]) => m.expect === 'accept');

  test('every fixture file in the manifest exists with its recorded size', () => {
    for (const [name, m] of Object.entries(MANIFEST)) assert.equal(fixture(name).length, m.bytes, name);
  });

  for (const [name, m] of accepted) {
    if (m.format === 'bmp') continue; // libvips in sharp has no BMP loader
    test(`manifest colours of ${name} match sharp's rendering`, async () => {
      const png = await sharp(fixture(name)).rotate().resize(256, 256, { fit: 'cover' }).toColourspace('srgb').png().toBuffer();
      const img = await decodeRGBA(png);
      if (m.grid) {
        const d = gridDiff(gridMeans(img), m.grid);
        assert.ok(d.worst <= m.tolerance, `${name}: ${JSON.stringify(d)}`);
      } else {
        assert.equal(img.data[3], 0, 'corner transparent');
        assert.equal(img.data[(128 * 256 + 128) * 4 + 3], 255, 'centre opaque');
      }
    });
  }

  test('ICC fixtures: ignoring the profile would visibly change the colours', () => {
    for (const name of ['jpeg_adobergb.jpg', 'jpeg_displayp3.jpg', 'png_adobergb.png']) {
      const m = MANIFEST[name];
      const worst = Math.max(...m.raw_values.flatMap((v, i) => v.map((c, j) => Math.abs(c - m.srgb_values[i][j]))));
      assert.ok(worst > 3 * m.tolerance, `${name}: raw vs sRGB differ by only ${worst}`);
    }
  });

  test('container headers are what the fixtures claim', () => {
    assert.equal(pngInfo(fixture('png_interlaced.png')).interlace, 1);
    assert.equal(pngInfo(fixture('png_rgb16.png')).bitDepth, 16);
    assert.equal(pngInfo(fixture('png_gray1.png')).bitDepth, 1);
    assert.equal(pngInfo(fixture('png_palette.png')).colorType, 3);
    assert.equal(jpegInfo(fixture('jpeg_cmyk.jpg')).components, 4);
    assert.equal(jpegInfo(fixture('jpeg_gray.jpg')).components, 1);
    assert.ok(jpegInfo(fixture('jpeg_progressive.jpg')).markers.some((x) => x.marker === 0xc2));
    assert.ok(webpInfo(fixture('webp_lossless.webp')).lossless);
    assert.ok(webpInfo(fixture('webp_alpha.webp')).alpha);
    const big = imageInfo(fixture('huge_header_65000.jpg'));
    assert.deepEqual([big.width, big.height], [65000, 65000]);
    const bigp = imageInfo(fixture('huge_header_65000.png'));
    assert.deepEqual([bigp.width, bigp.height], [65000, 65000]);
    const bomb = imageInfo(fixture('bomb_20000x20000.png'));
    assert.deepEqual([bomb.width, bomb.height], [20000, 20000]);
    assert.equal(fixture('empty.jpg').length, 0);
    assert.equal(fixture('heic.jpg').toString('latin1', 4, 12), 'ftypheic');
  });
});

describe('token helper', () => {
  test('AnqiCMS style: HS256, string claims userId and t, key secret + "-user-token"', () => {
    const exp = nowSec() + 100;
    const t = mintToken({ userId: 7, exp, secret: 's' });
    const [h, p, s] = t.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { alg: 'HS256', typ: 'JWT' });
    assert.deepEqual(JSON.parse(Buffer.from(p, 'base64url')), { userId: '7', t: String(exp) });
    assert.equal(s, createHmac('sha256', 's-user-token').update(`${h}.${p}`).digest('base64url'));
    assert.deepEqual(claimsUserAndExp(verifyToken(t, 's')), { userId: 7, exp });
  });

  test('bad tokens are bad', () => {
    assert.throws(() => verifyToken(mintToken({ alg: 'none' })));
    assert.throws(() => verifyToken(mintToken({ alg: 'HS384' })));
    assert.throws(() => verifyToken(mintToken({ tamper: 'payload' })));
    assert.throws(() => verifyToken(mintToken({ tamper: 'signature' })));
    assert.throws(() => verifyToken(mintToken({ secret: 'other' })));
    assert.equal(mintToken({ alg: 'none' }).split('.')[2], '');
  });
});
