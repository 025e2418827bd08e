//! Unit tests of the pipeline. Inputs are generated here with the `image`
//! crate's encoders or a tiny hand-written PNG writer (interlacing, eXIf,
//! iCCP, bombs); the few variants no Rust encoder here writes (progressive
//! and CMYK JPEG, lossy/animated WebP) come from `tests/fixtures-native/`
//! (see its `generate.py`).

use image::codecs::bmp::BmpEncoder;
use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ExtendedColorType, Frame, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

use super::codecs::webp::encode::encode_lossy;
use super::format::ACCEPTED_FORMATS;
use super::pipeline::{process_with_work, work_for_file};
use super::sniff::sniff;
use super::work::{cost, Work};
use super::*;
use crate::i18n::{Lang, UserFacing};

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const YELLOW: [u8; 3] = [255, 255, 0];

const PROGRESSIVE_JPG: &[u8] = include_bytes!("../../tests/fixtures-native/q_progressive.jpg");
const CMYK_JPG: &[u8] = include_bytes!("../../tests/fixtures-native/q_cmyk.jpg");
const LOSSY_WEBP: &[u8] = include_bytes!("../../tests/fixtures-native/q_lossy.webp");
const LOSSY_ALPHA_WEBP: &[u8] = include_bytes!("../../tests/fixtures-native/q_lossy_alpha.webp");
const ANIM_WEBP: &[u8] = include_bytes!("../../tests/fixtures-native/anim.webp");

// ----------------------------------------------------------------- helpers

fn opts(size: u32, format: OutputFormat) -> Options {
    Options { size, format, quality: 90, ..Options::default() }
}

fn png_out(size: u32) -> Options {
    opts(size, OutputFormat::Png)
}

/// Four quadrants: red, green / blue, yellow.
fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb(match (x < w / 2, y < h / 2) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => YELLOW,
        })
    })
}

fn enc_png(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(img.as_bytes(), img.width(), img.height(), img.color().into()).unwrap();
    out
}

fn enc_jpeg(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 95)
        .write_image(img.as_bytes(), img.width(), img.height(), img.color().into())
        .unwrap();
    out
}

/// A big-endian TIFF block with only the orientation tag.
fn exif_tiff(orientation: u16) -> Vec<u8> {
    let mut t = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    t.extend_from_slice(&orientation.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    t
}

/// The JPEG with a `marker` segment holding `body` right after SOI.
fn with_segment(jpeg: &[u8], marker: u8, body: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Inserts an APP1 Exif segment right after SOI.
fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut body = b"Exif\0\0".to_vec();
    body.extend(exif_tiff(orientation));
    with_segment(jpeg, 0xE1, &body)
}

fn decode_output(a: &Avatar) -> RgbaImage {
    image::load_from_memory(&a.bytes).unwrap().to_rgba8()
}

/// `file` made into a `size` px PNG avatar (exact pixels, no lossy
/// encode), and those pixels: the codecs' tests use it too.
pub(crate) fn png_avatar(file: &[u8], size: u32) -> (Avatar, RgbaImage) {
    let a = process(file, None, &png_out(size)).unwrap();
    let img = decode_output(&a);
    (a, img)
}

/// Bits packed least significant first, as GIF's LZW, deflate and
/// lossless WebP store them.
#[derive(Default)]
pub(crate) struct LsbBits {
    bytes: Vec<u8>,
    acc: u64,
    n: u32,
}

impl LsbBits {
    /// Appends the low `len` bits of `v` (`len` at most 32).
    pub(crate) fn put(&mut self, v: u32, len: u32) {
        self.acc |= (u64::from(v) & ((1 << len) - 1)) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// The bytes, the last one padded with zero bits.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

/// `data` as GIF data sub-blocks (at most 255 bytes each), closed by the
/// zero-length block.
pub(crate) fn gif_sub_blocks(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 255 + 2);
    for block in data.chunks(255) {
        out.push(block.len() as u8);
        out.extend_from_slice(block);
    }
    out.push(0);
    out
}

fn near(p: &Rgba<u8>, want: [u8; 3], tol: i32) -> bool {
    (0..3).all(|i| (i32::from(p[i]) - i32::from(want[i])).abs() <= tol)
}

#[track_caller]
fn assert_colour(img: &RgbaImage, x: u32, y: u32, want: [u8; 3], tol: i32) {
    let p = img.get_pixel(x, y);
    assert!(near(p, want, tol), "pixel ({x},{y}) = {p:?}, want ≈ {want:?}");
}

/// Colours at the centres of the four quadrants of an image.
fn quadrant_colours(img: &RgbaImage) -> [[u8; 3]; 4] {
    let (w, h) = img.dimensions();
    let at = |x, y| {
        let p = img.get_pixel(x, y);
        [p[0], p[1], p[2]]
    };
    [at(w / 4, h / 4), at(3 * w / 4, h / 4), at(w / 4, 3 * h / 4), at(3 * w / 4, 3 * h / 4)]
}

#[track_caller]
fn assert_quadrants(img: &RgbaImage, want: [[u8; 3]; 4], tol: i32) {
    let got = quadrant_colours(img);
    for i in 0..4 {
        let p = Rgba([got[i][0], got[i][1], got[i][2], 255]);
        assert!(near(&p, want[i], tol), "quadrant {i}: got {:?}, want {:?}", got, want);
    }
}

const QUADS: [[u8; 3]; 4] = [RED, GREEN, BLUE, YELLOW];

/// [`process`] without a work budget: for the memory tests, whose
/// header-only probes and flat worst cases declare far more than their
/// bytes (the work budget's own tests are in `cpu`, below).
fn process_unmetered(bytes: &[u8], crop: Option<CropBox>, opts: &Options) -> Result<Avatar, ImageError> {
    let work = Work::with_budget(u64::MAX, bytes.len() as u64);
    process_with_work(bytes, crop, opts, &|| 0.0, &work).map(|(a, _)| a)
}

fn err_en(e: &ImageError) -> String {
    e.message(Lang::En)
}

// ---- a tiny PNG writer (interlace, extra chunks, lying headers) ---------

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// zlib with stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[]] } else { data.chunks(65535).collect() };
    for (i, b) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        out.extend_from_slice(b);
    }
    let (mut a, mut s) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        s = (s + a) % 65521;
    }
    out.extend_from_slice(&((s << 16) | a).to_be_bytes());
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut c = kind.to_vec();
    c.extend_from_slice(data);
    out.extend_from_slice(&c);
    out.extend_from_slice(&crc32(&c).to_be_bytes());
}

/// PNG of 8-bit samples (`ch` per pixel, colour type `ct`), optionally Adam7.
fn png_raw(w: u32, h: u32, ct: u8, ch: usize, px: &[u8], interlaced: bool, extra: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, ct, 0, 0, u8::from(interlaced)]);
    chunk(&mut out, b"IHDR", &ihdr);
    for (k, d) in extra {
        chunk(&mut out, k, d);
    }
    let mut raw = Vec::new();
    let passes: &[(u32, u32, u32, u32)] = if interlaced {
        &[(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    } else {
        &[(0, 0, 1, 1)]
    };
    for &(x0, y0, dx, dy) in passes {
        if x0 >= w || y0 >= h {
            continue;
        }
        for y in (y0..h).step_by(dy as usize) {
            raw.push(0);
            for x in (x0..w).step_by(dx as usize) {
                let i = (y * w + x) as usize * ch;
                raw.extend_from_slice(&px[i..i + ch]);
            }
        }
    }
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Just a signature and an IHDR claiming `w`×`h` (plus a tiny IDAT).
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&[0; 64]));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// SOI, SOF (baseline or progressive, 3 components 4:2:0) and an SOS: enough
/// for the header check, no image data.
fn jpeg_header_only(w: u16, h: u16, progressive: bool) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, if progressive { 0xC2 } else { 0xC0 }, 0, 17, 8];
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    out.extend_from_slice(&[0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0]);
    out
}

// ------------------------------------------------------------ formats api

#[test]
fn output_format_names() {
    assert_eq!(OutputFormat::parse(" WEBP "), Some(OutputFormat::Webp));
    assert_eq!(OutputFormat::parse("Jpg"), Some(OutputFormat::Jpeg));
    assert_eq!(OutputFormat::parse("jpeg"), Some(OutputFormat::Jpeg));
    assert_eq!(OutputFormat::parse("png"), Some(OutputFormat::Png));
    assert_eq!(OutputFormat::parse("gif"), None);
    assert_eq!(OutputFormat::Jpeg.ext(), "jpg");
    assert_eq!(OutputFormat::Webp.content_type(), "image/webp");
    assert_eq!(SourceFormat::Webp.name(), "WebP");
}

// ------------------------------------------------------------------ sniff

#[test]
fn sniff_accepts_the_accepted_formats() {
    let q = DynamicImage::ImageRgb8(quadrants(8, 8));
    assert_eq!(sniff(&enc_jpeg(&q)), Ok(SourceFormat::Jpeg));
    assert_eq!(sniff(&enc_png(&q)), Ok(SourceFormat::Png));
    assert_eq!(sniff(LOSSY_WEBP), Ok(SourceFormat::Webp));
    assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Ok(SourceFormat::Gif));
    let mut bmp = Vec::new();
    BmpEncoder::new(&mut bmp).encode(q.as_bytes(), 8, 8, ExtendedColorType::Rgb8).unwrap();
    assert_eq!(sniff(&bmp), Ok(SourceFormat::Bmp));
    // AVIF and HEIC by their ftyp brands; a file that is only an ftyp box
    // is one of them, damaged (codecs::phone reads the rest).
    assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), Ok(SourceFormat::Heic));
    assert_eq!(sniff(b"\0\0\0\x1cftypavif\0\0\0\0mif1miafMA1B"), Ok(SourceFormat::Avif));
    let e = process(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", None, &Options::default()).unwrap_err();
    assert!(matches!(e, ImageError::Damaged { format: SourceFormat::Heic, .. }), "{e:?}");
    // HEIC=off refuses it from its brands, before its header is read.
    let off = Options { heic: false, ..Options::default() };
    let e = process(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", None, &off).unwrap_err();
    assert_eq!(e, ImageError::FormatOff { format: SourceFormat::Heic });
}

#[test]
fn sniff_refuses_disguised_files_and_says_what_they_look_like() {
    // A file, and what it looks like with the word its message uses.
    type Disguised<'a> = (&'a [u8], Option<(Lookalike, &'a str)>);
    let cases: &[Disguised] = &[
        (b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>", Some((Lookalike::Svg, "SVG"))),
        (b"  <svg width=\"10\"></svg>", Some((Lookalike::Svg, "SVG"))),
        (b"<!DOCTYPE html><html><body>hi</body></html>", Some((Lookalike::Html, "HTML"))),
        (b"%PDF-1.7\n%\xE2\xE3\xCF\xD3", Some((Lookalike::Pdf, "PDF"))),
        // An MP4 video and a QuickTime movie (AVIF and HEIC are formats now).
        (b"\0\0\0\x18ftypisom\0\0\0\0isomiso2", Some((Lookalike::IsoMedia, "MP4"))),
        (b"\0\0\0\x14ftypqt  \0\0\0\0qt  ", Some((Lookalike::QuickTime, "QuickTime"))),
        (b"hello, this is just text\n", Some((Lookalike::Text, "text"))),
        (b"BMnot really a bitmap, only text", Some((Lookalike::Text, "text"))),
        (b"\x00\x01\x02\x03\x04", None),
    ];
    for (bytes, kind) in cases {
        let e = sniff(bytes).unwrap_err();
        assert_eq!(e, ImageError::Unsupported { looks_like: kind.map(|(k, _)| k) });
        let en = err_en(&e);
        assert!(en.contains(ACCEPTED_FORMATS), "{en}");
        if let Some((_, k)) = kind {
            assert!(en.contains(k), "{en}");
        }
        assert!(e.message(Lang::Zh).contains(ACCEPTED_FORMATS));
    }
    assert_eq!(sniff(b""), Err(ImageError::Empty));
    // The whole pipeline refuses them too.
    let e = process(b"<svg/>", None, &Options::default()).unwrap_err();
    assert!(matches!(e, ImageError::Unsupported { looks_like: Some(Lookalike::Svg) }));
}

// ------------------------------------------------------------- decoding

/// Runs the pipeline to a 32 px PNG and checks the quadrant colours.
#[track_caller]
fn check_quadrants(bytes: &[u8], source: SourceFormat, tol: i32) -> Avatar {
    let a = process(bytes, None, &png_out(32)).unwrap();
    assert_eq!(a.source, source);
    let img = decode_output(&a);
    assert_eq!(img.dimensions(), (32, 32));
    assert_quadrants(&img, QUADS, tol);
    a
}

#[test]
fn decodes_png_variants() {
    let q = quadrants(40, 30);
    // 8-bit RGB, RGBA, 16-bit RGB.
    check_quadrants(&enc_png(&DynamicImage::ImageRgb8(q.clone())), SourceFormat::Png, 2);
    check_quadrants(
        &enc_png(&DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(q.clone()).to_rgba8())),
        SourceFormat::Png,
        2,
    );
    check_quadrants(
        &enc_png(&DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(q.clone()).to_rgb16())),
        SourceFormat::Png,
        2,
    );
    // Grey 8 and 16 bit, grey+alpha: the left half black, right half white.
    let g = image::GrayImage::from_fn(40, 30, |x, _| image::Luma([if x < 20 { 0 } else { 255 }]));
    for img in [
        DynamicImage::ImageLuma8(g.clone()),
        DynamicImage::ImageLuma16(DynamicImage::ImageLuma8(g.clone()).to_luma16()),
        DynamicImage::ImageLumaA8(DynamicImage::ImageLuma8(g.clone()).to_luma_alpha8()),
    ] {
        let out = decode_output(&process(&enc_png(&img), None, &png_out(32)).unwrap());
        assert_colour(&out, 4, 16, [0, 0, 0], 2);
        assert_colour(&out, 28, 16, [255, 255, 255], 2);
    }
    // Palette with tRNS (index 1 transparent) and interlaced RGB.
    let idx: Vec<u8> = (0..40 * 30).map(|i| u8::from(i % 40 >= 20)).collect();
    let pal = png_raw(40, 30, 3, 1, &idx, false, &[(b"PLTE", vec![0, 0, 255, 255, 0, 0]), (b"tRNS", vec![255, 0])]);
    let a = process(&pal, None, &png_out(32)).unwrap();
    assert!(a.has_alpha);
    let out = decode_output(&a);
    assert_colour(&out, 4, 16, BLUE, 2);
    assert_eq!(out.get_pixel(28, 16)[3], 0);
    let inter = png_raw(40, 30, 2, 3, q.as_raw(), true, &[]);
    check_quadrants(&inter, SourceFormat::Png, 2);
}

#[test]
fn decodes_jpeg_variants() {
    let q = DynamicImage::ImageRgb8(quadrants(64, 48));
    check_quadrants(&enc_jpeg(&q), SourceFormat::Jpeg, 40);
    check_quadrants(PROGRESSIVE_JPG, SourceFormat::Jpeg, 40);
    // Adobe CMYK (inverted samples), converted without a profile.
    check_quadrants(CMYK_JPG, SourceFormat::Jpeg, 40);
    // Greyscale.
    let g = DynamicImage::ImageLuma8(image::GrayImage::from_fn(64, 48, |x, _| {
        image::Luma([if x < 32 { 30 } else { 220 }])
    }));
    let out = decode_output(&process(&enc_jpeg(&g), None, &png_out(32)).unwrap());
    assert_colour(&out, 4, 16, [30, 30, 30], 8);
    assert_colour(&out, 28, 16, [220, 220, 220], 8);
}

#[test]
fn decodes_webp_gif_bmp() {
    let q = quadrants(64, 48);
    let mut lossless = Vec::new();
    WebPEncoder::new_lossless(&mut lossless).encode(q.as_raw(), 64, 48, ExtendedColorType::Rgb8).unwrap();
    check_quadrants(&lossless, SourceFormat::Webp, 2);
    check_quadrants(LOSSY_WEBP, SourceFormat::Webp, 40);
    let mut bmp = Vec::new();
    BmpEncoder::new(&mut bmp).encode(q.as_raw(), 64, 48, ExtendedColorType::Rgb8).unwrap();
    check_quadrants(&bmp, SourceFormat::Bmp, 2);
    let mut gif = Vec::new();
    GifEncoder::new(&mut gif).encode(q.as_raw(), 64, 48, ExtendedColorType::Rgb8).unwrap();
    check_quadrants(&gif, SourceFormat::Gif, 2);
}

#[test]
fn animations_use_the_first_frame() {
    let mut gif = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut gif);
        let red = RgbaImage::from_pixel(20, 20, Rgba([255, 0, 0, 255]));
        let blue = RgbaImage::from_pixel(20, 20, Rgba([0, 0, 255, 255]));
        let shown = |img| Frame::from_parts(img, 0, 0, image::Delay::from_numer_denom_ms(100, 1));
        enc.encode_frames([shown(red), shown(blue)]).unwrap();
    }
    let out = decode_output(&process(&gif, None, &png_out(16)).unwrap());
    assert_colour(&out, 8, 8, RED, 2);
    // Frames without a delay are not shown on their own (GIF89a: processing
    // continues at once): the first picture is what they build together.
    let mut merged = Vec::new();
    {
        // Palette: transparent, red, blue; the right half drawn blue over red.
        let mut enc = gif::Encoder::new(&mut merged, 20, 20, &[0, 0, 0, 255, 0, 0, 0, 0, 255]).unwrap();
        let mut red = gif::Frame::from_indexed_pixels(20, 20, vec![1; 400], Some(0));
        red.dispose = gif::DisposalMethod::Keep;
        let mut blue = gif::Frame::from_indexed_pixels(10, 20, vec![2; 200], Some(0));
        (blue.left, blue.delay) = (10, 50);
        enc.write_frame(&red).unwrap();
        enc.write_frame(&blue).unwrap();
    }
    let out = decode_output(&process(&merged, None, &png_out(16)).unwrap());
    assert_colour(&out, 2, 8, RED, 2);
    assert_colour(&out, 13, 8, [0, 0, 255], 2);
    let a = process(ANIM_WEBP, None, &png_out(16)).unwrap();
    assert_eq!(a.source, SourceFormat::Webp);
    assert_colour(&decode_output(&a), 8, 8, RED, 40);
}

#[test]
fn lossy_webp_with_alpha_keeps_transparency() {
    let a = process(LOSSY_ALPHA_WEBP, None, &png_out(32)).unwrap();
    assert!(a.has_alpha);
    let out = decode_output(&a);
    assert!(out.get_pixel(4, 16)[3] < 10, "{:?}", out.get_pixel(4, 16));
    assert_eq!(out.get_pixel(28, 4)[3], 255);
}

#[test]
fn still_webp_crop_at_odd_offsets_is_exact() {
    // libwebp snaps a crop to even coordinates: the column/row before an
    // odd crop must not reach the avatar. Black up to x = 150 and y = 100,
    // white beyond (luma is not subsampled): the crop from (151, 101) is
    // all white.
    let img = RgbImage::from_fn(420, 330, |x, y| if x <= 150 || y <= 100 { Rgb([0; 3]) } else { Rgb([255; 3]) });
    let file = encode_lossy(img.as_raw(), 420, 330, false, 100).unwrap();
    // 225 px side: shrunk by libwebp to 2 × 64 first, then resized.
    for (side, size) in [(225, 64), (99, 64)] {
        let crop = CropBox { x: 151, y: 101, w: side, h: side };
        let out = decode_output(&process(&file, Some(crop), &png_out(size)).unwrap());
        for (x, y) in [(0, 0), (0, size - 1), (size - 1, 0), (size / 2, size / 2)] {
            assert_colour(&out, x, y, [255; 3], 24);
        }
    }
}

#[test]
fn cut_or_corrupt_still_webp_is_refused_as_damaged() {
    // Every cut of a lossy file (libwebp's path), and bytes flipped in its
    // bitstream: an error naming the damage (or, for flips that only
    // change pixels, an image), never a panic.
    for cut in (30..LOSSY_WEBP.len()).step_by(7) {
        match process(&LOSSY_WEBP[..cut], None, &png_out(16)) {
            Err(ImageError::Damaged { format: SourceFormat::Webp, .. }) => {}
            other => panic!("cut at {cut} of {}: {other:?}", LOSSY_WEBP.len()),
        }
    }
    for at in (40..LOSSY_WEBP.len()).step_by(13) {
        let mut bad = LOSSY_WEBP.to_vec();
        bad[at] ^= 0x5A;
        if let Err(e) = process(&bad, None, &png_out(16)) {
            assert!(
                matches!(e, ImageError::Damaged { .. } | ImageError::UnsupportedVariant { .. }),
                "flip at {at}: {e:?}"
            );
        }
    }
}

// ------------------------------------------------------------ orientation

#[test]
fn exif_orientations_1_to_8_jpeg() {
    let q = quadrants(64, 48);
    let jpeg = enc_jpeg(&DynamicImage::ImageRgb8(q.clone()));
    for o in 1..=8u16 {
        let bytes = with_exif(&jpeg, o);
        let a = process(&bytes, None, &png_out(32)).unwrap();
        // Expected: the `image` crate's own implementation of the rotation.
        let mut upright = DynamicImage::ImageRgb8(q.clone());
        upright.apply_orientation(image::metadata::Orientation::from_exif(o as u8).unwrap());
        assert_eq!((a.width, a.height), (upright.width(), upright.height()), "orientation {o}");
        let want = quadrant_colours(&upright.to_rgba8());
        let out = decode_output(&a);
        let got = quadrant_colours(&out);
        for i in 0..4 {
            let p = Rgba([got[i][0], got[i][1], got[i][2], 255]);
            assert!(near(&p, want[i], 40), "orientation {o}: got {got:?}, want {want:?}");
        }
    }
}

#[test]
fn png_exif_orientation_and_crop_in_upright_pixels() {
    // Stored 40×30 quadrants, orientation 6 (rotate 90° clockwise): upright
    // is 30×40 with blue top-left, red top-right, yellow bottom-left, green
    // bottom-right.
    let q = quadrants(40, 30);
    let png = png_raw(40, 30, 2, 3, q.as_raw(), false, &[(b"eXIf", exif_tiff(6))]);
    let a = process(&png, None, &png_out(16)).unwrap();
    assert_eq!((a.width, a.height), (30, 40));
    assert_quadrants(&decode_output(&a), [BLUE, RED, YELLOW, GREEN], 2);
    // Crop box in upright pixels: the bottom-left 15×20 of the upright image.
    let crop = CropBox { x: 0, y: 20, w: 15, h: 20 };
    let out = decode_output(&process(&png, Some(crop), &png_out(16)).unwrap());
    for (x, y) in [(1, 1), (8, 8), (14, 14)] {
        assert_colour(&out, x, y, YELLOW, 2);
    }
}

// ----------------------------------------------------------------- crop

#[test]
fn crop_box_selects_the_region() {
    let png = enc_png(&DynamicImage::ImageRgb8(quadrants(200, 100)));
    let out = decode_output(&process(&png, Some(CropBox { x: 100, y: 50, w: 100, h: 50 }), &png_out(24)).unwrap());
    for (x, y) in [(0, 0), (12, 12), (23, 23), (0, 23)] {
        assert_colour(&out, x, y, YELLOW, 2);
    }
    // A non-square box is centre-cropped to a square: (0,0,100,50) keeps
    // x 25..75, all red.
    let out = decode_output(&process(&png, Some(CropBox { x: 0, y: 0, w: 100, h: 50 }), &png_out(24)).unwrap());
    for (x, y) in [(0, 0), (23, 23)] {
        assert_colour(&out, x, y, RED, 2);
    }
    // A box straddling the quadrants shows all four.
    let out = decode_output(&process(&png, Some(CropBox { x: 60, y: 10, w: 80, h: 80 }), &png_out(24)).unwrap());
    assert_quadrants(&out, QUADS, 2);
}

#[test]
fn crop_box_must_fit_and_be_non_empty() {
    let png = enc_png(&DynamicImage::ImageRgb8(quadrants(200, 100)));
    let e = process(&png, Some(CropBox { x: 150, y: 0, w: 100, h: 50 }), &png_out(24)).unwrap_err();
    assert!(matches!(e, ImageError::CropOutside { width: 200, height: 100, .. }));
    let en = err_en(&e);
    assert!(en.contains("200×100") && en.contains("x=150"), "{en}");
    let e = process(&png, Some(CropBox { x: 0, y: 0, w: 0, h: 50 }), &png_out(24)).unwrap_err();
    assert!(matches!(e, ImageError::CropEmpty { .. }));
    let e = process(&png, Some(CropBox { x: u32::MAX, y: 0, w: u32::MAX, h: 5 }), &png_out(24)).unwrap_err();
    assert!(matches!(e, ImageError::CropOutside { .. }));
}

#[test]
fn centre_crop_of_tall_and_wide_images() {
    // Three bands red/green/blue; the centre square is the green band.
    let tall = RgbImage::from_fn(40, 120, |_, y| Rgb([RED, GREEN, BLUE][(y / 40) as usize]));
    let wide = RgbImage::from_fn(120, 40, |x, _| Rgb([RED, GREEN, BLUE][(x / 40) as usize]));
    for img in [tall, wide] {
        let out = decode_output(&process(&enc_png(&DynamicImage::ImageRgb8(img)), None, &png_out(20)).unwrap());
        for (x, y) in [(0, 0), (10, 10), (19, 19), (0, 19), (19, 0)] {
            assert_colour(&out, x, y, GREEN, 3);
        }
    }
}

// --------------------------------------------------------------- resize

#[test]
fn output_is_exactly_size_by_size() {
    let png = enc_png(&DynamicImage::ImageRgb8(quadrants(37, 91)));
    for size in [1, 16, 31, 256] {
        for format in [OutputFormat::Png, OutputFormat::Jpeg, OutputFormat::Webp] {
            let a = process(&png, None, &opts(size, format)).unwrap();
            assert_eq!(a.format, format);
            assert_eq!(image::load_from_memory(&a.bytes).unwrap().into_rgb8().dimensions(), (size, size));
        }
    }
}

#[test]
fn resize_space_decides_what_is_averaged() {
    // 1-px checkerboards. Black/white: the mean code value is 127.5, the
    // mean light 50 %, which is sRGB ≈ 188. Black/128: mean code value 64,
    // mean light 10.8 %, sRGB ≈ 92 (a mid-grey side, so that the samples
    // and the conversion back must both belong to the space).
    for (hi, srgb, linear) in [(255u8, 120..=136, 180..=196), (128, 58..=70, 86..=98)] {
        let img = image::GrayImage::from_fn(256, 256, |x, y| image::Luma([if (x + y) % 2 == 0 { 0 } else { hi }]));
        let png = enc_png(&DynamicImage::ImageLuma8(img));
        for (space, want) in [(ResizeSpace::Srgb, srgb), (ResizeSpace::Linear, linear)] {
            let out = decode_output(&process(&png, None, &Options { space, ..png_out(16) }).unwrap());
            for (x, y) in [(3, 3), (8, 8), (12, 5)] {
                let v = out.get_pixel(x, y)[0];
                assert!(want.contains(&v), "{space:?}, 0/{hi}: grey {v}, want {want:?}");
            }
        }
    }
    assert_eq!(Options::default().space, ResizeSpace::Srgb);
}

#[test]
fn large_downscale_uses_box_preshrink_and_stays_accurate() {
    // 1500×1000 quadrants to 32 px: PNG streams and box-shrinks first.
    let png = enc_png(&DynamicImage::ImageRgb8(quadrants(1500, 1000)));
    check_quadrants(&png, SourceFormat::Png, 2);
    let jpeg = enc_jpeg(&DynamicImage::ImageRgb8(quadrants(1500, 1000)));
    check_quadrants(&jpeg, SourceFormat::Jpeg, 40);
}

// ---------------------------------------------------------------- alpha

#[test]
fn alpha_kept_for_png_and_webp_dropped_for_opaque_and_jpeg() {
    let img = RgbaImage::from_fn(40, 40, |x, _| if x < 20 { Rgba([255, 0, 0, 0]) } else { Rgba([0, 0, 255, 255]) });
    let png = enc_png(&DynamicImage::ImageRgba8(img));
    for format in [OutputFormat::Png, OutputFormat::Webp] {
        let a = process(&png, None, &opts(32, format)).unwrap();
        assert!(a.has_alpha, "{format:?}");
        let out = decode_output(&a);
        assert_eq!(out.get_pixel(2, 16)[3], 0);
        assert_eq!(out.get_pixel(29, 16)[3], 255);
        assert_colour(&out, 29, 16, BLUE, 2);
        assert!(image::load_from_memory(&a.bytes).unwrap().color().has_alpha());
    }
    // JPEG output: composited over white.
    let a = process(&png, None, &opts(32, OutputFormat::Jpeg)).unwrap();
    assert!(!a.has_alpha);
    let out = decode_output(&a);
    assert_colour(&out, 2, 16, [255, 255, 255], 6);
    assert_colour(&out, 29, 16, BLUE, 40);
    // An RGBA file without transparency is written without alpha.
    let opaque = enc_png(&DynamicImage::ImageRgba8(RgbaImage::from_pixel(20, 20, Rgba([9, 99, 199, 255]))));
    let a = process(&opaque, None, &png_out(8)).unwrap();
    assert!(!a.has_alpha);
    assert!(!image::load_from_memory(&a.bytes).unwrap().color().has_alpha());
}

#[test]
fn transparent_pixels_do_not_tint_edges() {
    // Invisible *green* next to opaque red: premultiplied averaging must not
    // tint the red where the two meet (the green has no weight).
    let img = RgbaImage::from_fn(64, 64, |x, _| if x < 31 { Rgba([0, 255, 0, 0]) } else { Rgba([255, 0, 0, 255]) });
    let out = decode_output(&process(&enc_png(&DynamicImage::ImageRgba8(img)), None, &png_out(16)).unwrap());
    for x in 6..16 {
        let p = out.get_pixel(x, 8);
        if p[3] > 20 {
            assert!(p[0] > 240 && p[1] < 16, "fringe at x={x}: {p:?}");
        }
    }
}

// ------------------------------------------------------------- metadata

#[test]
fn no_metadata_in_the_output() {
    let jpeg = with_exif(&enc_jpeg(&DynamicImage::ImageRgb8(quadrants(32, 32))), 1);
    let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
    let mut iccp = b"p3\0\0".to_vec();
    iccp.extend(zlib_stored(&p3));
    let q = quadrants(32, 32);
    let png = png_raw(32, 32, 2, 3, q.as_raw(), false, &[(b"iCCP", iccp), (b"eXIf", exif_tiff(1))]);
    for input in [&jpeg, &png] {
        for format in [OutputFormat::Png, OutputFormat::Jpeg, OutputFormat::Webp] {
            let out = process(input, None, &opts(16, format)).unwrap().bytes;
            for needle in
                [&b"Exif"[..], b"eXIf", b"EXIF", b"iCCP", b"ICC_PROFILE", b"ICCP", b"XMP", b"tEXt", b"zTXt", b"iTXt"]
            {
                assert!(
                    memchr::memmem::find(&out, needle).is_none(),
                    "{format:?} output contains {:?}",
                    String::from_utf8_lossy(needle)
                );
            }
            // JPEG: no APP1/APP2/COM segments.
            if format == OutputFormat::Jpeg {
                for marker in [[0xFF, 0xE1], [0xFF, 0xE2], [0xFF, 0xFE]] {
                    assert!(memchr::memmem::find(&out[..out.len().min(64)], &marker).is_none());
                }
            }
        }
    }
}

// ------------------------------------------------------------------ colour

#[test]
fn display_p3_profile_is_converted_to_srgb() {
    let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
    let mut iccp = b"Display P3\0\0".to_vec();
    iccp.extend(zlib_stored(&p3));
    let px: Vec<u8> = [200u8, 100, 50].repeat(16 * 16);
    let tagged = png_raw(16, 16, 2, 3, &px, false, &[(b"iCCP", iccp)]);
    let plain = png_raw(16, 16, 2, 3, &px, false, &[]);
    let t = decode_output(&process(&tagged, None, &png_out(8)).unwrap());
    let p = decode_output(&process(&plain, None, &png_out(8)).unwrap());
    assert_colour(&p, 4, 4, [200, 100, 50], 1);
    // P3's red is more saturated than sRGB's: the same numbers in P3 need
    // more red and less green in sRGB.
    let c = t.get_pixel(4, 4);
    assert!(c[0] >= 210 && c[1] <= 95, "P3 (200,100,50) became {c:?}");
}

#[test]
fn display_p3_profile_of_a_lossy_webp_is_converted_to_srgb() {
    // The libwebp path (still lossy, no alpha) finds the ICCP chunk itself.
    let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
    let px: Vec<u8> = [200u8, 100, 50].repeat(16 * 16);
    let plain = encode_lossy(&px, 16, 16, false, 100).unwrap();
    let vp8 = webp_chunks(&plain).into_iter().find(|c| &c.0 == b"VP8 ").expect("VP8").1;
    let mut body = Vec::new();
    riff_chunk(&mut body, b"VP8X", &vp8x(0x20, 16, 16));
    riff_chunk(&mut body, b"ICCP", &p3);
    riff_chunk(&mut body, b"VP8 ", &vp8);
    let tagged = webp_file(&body);
    let p = decode_output(&process(&plain, None, &png_out(8)).unwrap());
    let t = decode_output(&process(&tagged, None, &png_out(8)).unwrap());
    assert_colour(&p, 4, 4, [200, 100, 50], 6);
    let c = t.get_pixel(4, 4);
    assert!(c[0] >= 210 && c[1] <= 95, "P3 (200,100,50) became {c:?}");
}

#[test]
fn unparsable_or_oversized_profile_falls_back_to_srgb() {
    let px: Vec<u8> = [200u8, 100, 50].repeat(16 * 16);
    let mut garbage = b"junk\0\0".to_vec();
    garbage.extend(zlib_stored(b"this is not an ICC profile at all"));
    let png = png_raw(16, 16, 2, 3, &px, false, &[(b"iCCP", garbage)]);
    let out = decode_output(&process(&png, None, &png_out(8)).unwrap());
    assert_colour(&out, 4, 4, [200, 100, 50], 1);
    // Garbage ICC in a JPEG too (APP2 ICC_PROFILE marker).
    let jpeg = enc_jpeg(&DynamicImage::ImageRgb8(RgbImage::from_pixel(16, 16, Rgb([200, 100, 50]))));
    let bad = with_segment(&jpeg, 0xE2, b"ICC_PROFILE\0\x01\x01garbage-garbage");
    let out = decode_output(&process(&bad, None, &png_out(8)).unwrap());
    assert_colour(&out, 4, 4, [200, 100, 50], 12);
}

// ------------------------------------------------------------------ limits

#[test]
fn pixel_limit_names_the_figure_and_the_limit() {
    let e = process(&png_header_only(30000, 30000), None, &Options::default()).unwrap_err();
    assert_eq!(e, ImageError::TooManyPixels { width: 30000, height: 30000, limit: 100_000_000 });
    let en = err_en(&e);
    assert!(en.contains("30000×30000 = 900 MP") && en.contains("100 MP"), "{en}");
    let zh = e.message(Lang::Zh);
    assert!(zh.contains("30000×30000 = 900 MP") && zh.contains("100 MP"), "{zh}");
}

#[test]
fn huge_headers_are_refused_without_decoding() {
    // 65000×65000 JPEG and a PNG decompression bomb: refused on the header.
    for bytes in [jpeg_header_only(65000, 65000, false), png_header_only(65000, 65000), png_header_only(50_000, 50_000)]
    {
        let e = process(&bytes, None, &Options::default()).unwrap_err();
        assert!(matches!(e, ImageError::TooManyPixels { .. }), "{e:?}");
    }
    // Even with no pixel limit at all, nothing huge is allocated: the
    // decoders' memory budget refuses what does not fit.
    let unlimited = Options { max_pixels: u64::MAX, ..Options::default() };
    let e = process(&jpeg_header_only(65000, 65000, false), None, &unlimited).unwrap_err();
    assert!(matches!(e, ImageError::TooMuchMemory { .. }), "{e:?}");
    let e = process(&png_header_only(70000, 10), None, &unlimited).unwrap_err();
    assert!(matches!(e, ImageError::BadDimensions { max: 65535, .. }), "{e:?}");
    let e = process(&png_header_only(0, 10), None, &unlimited).unwrap_err();
    assert!(matches!(e, ImageError::BadDimensions { .. }), "{e:?}");
    // A streamed PNG whose data stops early is damaged, not a panic or hang.
    let e = process(&png_header_only(60000, 60000), None, &unlimited).unwrap_err();
    assert!(matches!(e, ImageError::Damaged { format: SourceFormat::Png, .. }), "{e:?}");
}

#[test]
fn large_progressive_jpeg_is_refused_with_a_way_out() {
    // 100 MP progressive needs ~300 MB of coefficients: refused, and the
    // message says what fits and suggests baseline.
    let e = process(&jpeg_header_only(10000, 10000, true), None, &Options::default()).unwrap_err();
    let ImageError::TooMuchMemory { max_mp, .. } = e else { panic!("{e:?}") };
    assert!((15..=40).contains(&max_mp), "{max_mp}");
    let en = err_en(&e);
    assert!(en.contains("progressive") && en.contains("baseline") && en.contains("10000×10000"), "{en}");
}

/// DQT (all ones), the frame header (`sof`: SOF0 or SOF2; 3 components,
/// 4:2:0) and one-symbol DC and AC Huffman tables (the symbol: DC category
/// 0 / AC end-of-block), for the hand-built grey JPEGs below.
fn grey_jpeg_tables(out: &mut Vec<u8>, sof: u8, w: u16, h: u16) {
    out.extend_from_slice(&[0xFF, 0xDB, 0, 67, 0]);
    out.extend_from_slice(&[1; 64]);
    out.extend_from_slice(&[0xFF, sof, 0, 17, 8]);
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0]);
    for class in [0x00u8, 0x10] {
        out.extend_from_slice(&[0xFF, 0xC4, 0, 20, class, 1]);
        out.extend_from_slice(&[0; 15]);
        out.push(0);
    }
}

/// A valid baseline 4:2:0 JPEG of any size, uniformly grey (128), built by
/// hand in a blink: one-symbol Huffman tables make every block two zero
/// bits, so the entropy data is all zero bytes.
fn big_grey_jpeg(w: u16, h: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    grey_jpeg_tables(&mut out, 0xC0, w, h);
    out.extend_from_slice(&[0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0, 3, 0, 0, 63, 0]);
    let mcus = u64::from(w).div_ceil(16) * u64::from(h).div_ceil(16);
    out.resize(out.len() + (mcus * 6 * 2).div_ceil(8) as usize, 0);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A VP8X WebP header (no image data) claiming `w`×`h`, with the given
/// image chunk fourcc.
fn webp_header_only(w: u32, h: u32, image_chunk: &[u8; 4]) -> Vec<u8> {
    let mut out = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
    out.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    out.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    out.extend_from_slice(image_chunk);
    out.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0, 0]);
    out
}

#[test]
fn full_decode_formats_have_a_memory_budget_that_fits_phone_photos() {
    // A 12 MP lossy WebP (phone photo) passes the budget (and then fails
    // only because there is no data); 24 MP lossless is refused up front,
    // naming the kind and the size that fits.
    let e = process_unmetered(&webp_header_only(4000, 3000, b"VP8 "), None, &Options::default()).unwrap_err();
    assert!(matches!(e, ImageError::Damaged { .. }), "{e:?}");
    let e = process(&webp_header_only(6000, 4000, b"VP8L"), None, &Options::default()).unwrap_err();
    let ImageError::TooMuchMemory { max_mp, kind: Some(Kind::Lossless), .. } = e else { panic!("{e:?}") };
    assert_eq!(max_mp, 9);
    let en = err_en(&e);
    assert!(en.contains("this lossless WebP is 6000×4000 = 24 MP") && en.contains("9 MP"), "{en}");
    assert!(e.message(Lang::Zh).contains("无损WebP"), "{}", e.message(Lang::Zh));
}

#[test]
fn larger_bodies_leave_the_pipeline_less_memory() {
    // The 24 MP PNG photo of the bench (34 MiB, under a raised
    // MAX_UPLOAD_BYTES) is streamed: it still fits next to its body.
    let png = png_header_only(5664, 4248);
    let held = |n: u64| Options { held_bytes: n, ..Options::default() };
    let e = process(&png, None, &held(35_127_503 + 1024)).unwrap_err();
    assert!(matches!(e, ImageError::Damaged { .. }), "{e:?}");
    // A body that leaves nothing for the pipeline: refused up front.
    let e = process(&png, None, &held(99_000_000)).unwrap_err();
    assert!(matches!(e, ImageError::TooMuchMemory { .. }), "{e:?}");
    // Interlaced 16 MP RGBA (64 MB of pixels) fits next to a default-size
    // body, not next to a 30 MB one.
    let mut png = png_header_only(4000, 4000);
    png[24..29].copy_from_slice(&[8, 6, 0, 0, 1]);
    let crc = crc32(&png[12..29]).to_be_bytes();
    png[29..33].copy_from_slice(&crc);
    let e = process_unmetered(&png, None, &held(20 << 20)).unwrap_err();
    assert!(matches!(e, ImageError::Damaged { .. }), "{e:?}");
    let e = process_unmetered(&png, None, &held(30_000_000)).unwrap_err();
    assert!(matches!(e, ImageError::TooMuchMemory { kind: Some(Kind::Interlaced), .. }), "{e:?}");
}

#[test]
fn hundred_megapixel_baseline_jpeg_is_accepted() {
    let (w, h) = (12_000u32, 8_333u32); // 99.996 MP
    let jpeg = big_grey_jpeg(w as u16, h as u16);
    assert!(jpeg.len() < 20 * 1024 * 1024);
    let a = process(&jpeg, None, &Options::default()).unwrap();
    assert_eq!((a.width, a.height), (w, h));
    // A small crop forces a finer DCT scale, still within the budget.
    let crop = CropBox { x: 5000, y: 4000, w: 300, h: 300 };
    let out = decode_output(&process(&jpeg, Some(crop), &png_out(256)).unwrap());
    assert_colour(&out, 128, 128, [128, 128, 128], 3);
    // Over the limit by one row: refused.
    let e = process(&big_grey_jpeg(12_000, 8_334), None, &Options::default()).unwrap_err();
    assert!(matches!(e, ImageError::TooManyPixels { .. }));
}

// ---------------------------------------------------------- damaged data

fn noisy(w: u32, h: u32) -> RgbImage {
    let mut s = 12345u32;
    RgbImage::from_fn(w, h, |_, _| {
        s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let b = s.to_be_bytes();
        Rgb([b[0], b[1], b[2]])
    })
}

#[test]
fn truncated_files_are_damaged_and_name_the_format() {
    let img = DynamicImage::ImageRgb8(noisy(64, 64));
    let jpeg = enc_jpeg(&img);
    let e = process(&jpeg[..jpeg.len() * 6 / 10], None, &Options::default()).unwrap_err();
    assert!(matches!(e, ImageError::Damaged { format: SourceFormat::Jpeg, .. }), "{e:?}");
    assert!(err_en(&e).contains("JPEG file is damaged or incomplete"), "{}", err_en(&e));
    assert!(e.message(Lang::Zh).contains("JPEG"));
    let png = enc_png(&img);
    let e = process(&png[..png.len() / 2], None, &Options::default()).unwrap_err();
    assert!(matches!(e, ImageError::Damaged { format: SourceFormat::Png, .. }), "{e:?}");
    // Only the magic bytes.
    for stub in [&b"\xFF\xD8\xFF"[..], b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WEBP"] {
        assert!(matches!(process(stub, None, &Options::default()), Err(ImageError::Damaged { .. })), "{stub:?}");
    }
}

#[test]
fn corrupted_inputs_never_panic() {
    let img = DynamicImage::ImageRgb8(noisy(24, 20));
    let mut samples: Vec<Vec<u8>> = vec![
        enc_jpeg(&img),
        enc_png(&img),
        PROGRESSIVE_JPG.to_vec(),
        CMYK_JPG.to_vec(),
        LOSSY_WEBP.to_vec(),
        ANIM_WEBP.to_vec(),
    ];
    let mut b = Vec::new();
    BmpEncoder::new(&mut b).encode(img.as_bytes(), 24, 20, ExtendedColorType::Rgb8).unwrap();
    samples.push(b);
    let mut g = Vec::new();
    GifEncoder::new(&mut g).encode(img.as_bytes(), 24, 20, ExtendedColorType::Rgb8).unwrap();
    samples.push(g);
    let mut w = Vec::new();
    WebPEncoder::new_lossless(&mut w).encode(img.as_bytes(), 24, 20, ExtendedColorType::Rgb8).unwrap();
    samples.push(w);
    samples.push(png_raw(24, 20, 2, 3, img.as_bytes(), true, &[]));
    let o = Options { size: 16, ..Options::default() };
    let mut seed = 7u32;
    for s in &samples {
        // Every truncation length near the start, then a stride.
        for len in (0..s.len().min(200)).chain((200..s.len()).step_by(37)) {
            let _ = process(&s[..len], None, &o);
        }
        // Random byte flips (keeping the magic bytes).
        for _ in 0..150 {
            let mut c = s.clone();
            for _ in 0..3 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let i = 4 + (seed >> 8) as usize % (c.len() - 4);
                c[i] = (seed >> 3) as u8;
            }
            let _ = process(&c, None, &o);
        }
    }
}

// ----------------------------------------------------------------- misc

#[test]
fn bad_options_are_refused() {
    let png = enc_png(&DynamicImage::ImageRgb8(quadrants(8, 8)));
    for o in [
        Options { size: 0, ..Options::default() },
        Options { quality: 0, ..Options::default() },
        Options { size: 100_000, ..Options::default() },
    ] {
        assert!(matches!(process(&png, None, &o), Err(ImageError::BadOption { .. })));
    }
}

#[test]
fn stage_times_use_the_supplied_clock() {
    let png = enc_png(&DynamicImage::ImageRgb8(quadrants(8, 8)));
    let ticks = std::cell::Cell::new(0.0);
    let clock = || {
        ticks.set(ticks.get() + 1.0);
        ticks.get()
    };
    let (_, t) = process_timed(&png, None, &png_out(8), &clock).unwrap();
    assert_eq!((t.header_ms, t.decode_ms, t.resize_ms, t.orient_ms, t.encode_ms), (1.0, 1.0, 1.0, 1.0, 1.0));
    assert_eq!(t.total_ms(), 5.0);
}

#[test]
fn messages_are_bilingual_and_actionable() {
    let errs = [
        ImageError::Empty,
        ImageError::Unsupported { looks_like: Some(Lookalike::Pdf) },
        ImageError::TooManyPixels { width: 20000, height: 10000, limit: 100_000_000 },
        ImageError::BadDimensions { width: 70000, height: 1, max: 65535 },
        ImageError::TooMuchMemory { format: SourceFormat::Webp, kind: None, width: 9000, height: 9000, max_mp: 10 },
        ImageError::Damaged { format: SourceFormat::Gif, detail: "x".into() },
        ImageError::HeapExhausted { format: SourceFormat::Webp, width: 16, height: 16 },
        ImageError::CropEmpty { crop: CropBox { x: 0, y: 0, w: 0, h: 3 } },
        ImageError::UnsupportedVariant { format: SourceFormat::Jpeg, variant: Variant::TwelveBit },
    ];
    for e in errs {
        let (zh, en) = (e.message(Lang::Zh), e.message(Lang::En));
        assert!(!zh.is_empty() && !en.is_empty() && zh != en);
        assert!(zh.chars().any(|c| c as u32 > 0x4E00), "{zh}");
        assert_eq!(e.code(), -1);
    }
    let en =
        ImageError::TooMuchMemory { format: SourceFormat::Webp, kind: None, width: 9000, height: 9000, max_mp: 10 }
            .message(Lang::En);
    assert!(en.contains("9000×9000 = 81 MP") && en.contains("10 MP"), "{en}");
}

#[test]
fn webp_output_is_lossy() {
    let jpeg = enc_jpeg(&DynamicImage::ImageRgb8(noisy(300, 300)));
    let a = process(&jpeg, None, &Options::default()).unwrap();
    assert_eq!(&a.bytes[..4], b"RIFF");
    assert_eq!(&a.bytes[8..12], b"WEBP");
    assert!(memchr::memmem::find(&a.bytes, b"VP8 ").is_some(), "no lossy VP8 chunk");
    assert!(memchr::memmem::find(&a.bytes, b"VP8L").is_none(), "lossless VP8L chunk");
}

// ------------------------------------------------------- worst-case memory
//
// The requirement: no accepted input may need more than 100 MB of wasm
// memory, i.e. the pipeline's peak heap must stay within PIPELINE_BUDGET
// (what the bound leaves after the baseline and a body at the default cap).
// For each kind of input that is decoded in full or keeps large buffers,
// the test asks the pipeline for the largest size it accepts (binary search
// on header-only files: refused for memory or not), builds a real file of
// that size and measures the peak heap of `process` with a counting global
// allocator. It runs in a child process of the test binary (only this test,
// one thread), so no other test's allocations are counted.
// scripts/worst-case-memory.py does the same with real encoders and more
// variants (docs/benchmark.md, "Worst-case memory").

mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

    static NOW: AtomicIsize = AtomicIsize::new(0);
    static PEAK: AtomicIsize = AtomicIsize::new(0);

    pub struct Counting;

    fn grow(n: usize) {
        let v = NOW.fetch_add(n as isize, Relaxed) + n as isize;
        PEAK.fetch_max(v, Relaxed);
    }

    // SAFETY: every call is forwarded to the system allocator with the
    // caller's arguments, under the caller's contract; only counted here.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            grow(l.size());
            // SAFETY: the caller's contract for `alloc`.
            unsafe { System.alloc(l) }
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            grow(l.size());
            // SAFETY: the caller's contract for `alloc_zeroed`.
            unsafe { System.alloc_zeroed(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            NOW.fetch_sub(l.size() as isize, Relaxed);
            // SAFETY: `p` came from `System` with `l` (the caller's contract).
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            // Both blocks exist while the data is copied.
            grow(new);
            NOW.fetch_sub(l.size() as isize, Relaxed);
            // SAFETY: the caller's contract for `realloc`.
            unsafe { System.realloc(p, l, new) }
        }
    }

    #[global_allocator]
    static A: Counting = Counting;

    /// Runs `f`; returns its result and the peak of the bytes allocated
    /// (by all threads) above the level when it started.
    pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, u64) {
        let base = NOW.load(Relaxed);
        PEAK.store(base, Relaxed);
        let r = f();
        (r, (PEAK.load(Relaxed) - base).max(0) as u64)
    }
}

/// The largest `k` in `1..=hi` with `fits(k)` (`fits` is monotone, true at 1).
fn largest_fitting(hi: u32, fits: impl Fn(u32) -> bool) -> u32 {
    let (mut lo, mut hi) = (1, hi);
    assert!(fits(lo));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The JPEG with an Adobe APP14 segment (transform 1, YCbCr) after SOI.
fn with_adobe_app14(jpeg: Vec<u8>) -> Vec<u8> {
    with_segment(&jpeg, 0xEE, b"Adobe\0\x64\0\0\0\0\x01")
}

/// Not refused for memory (header-only probes then fail as damaged).
fn not_too_big(bytes: &[u8], crop: Option<CropBox>) -> bool {
    !matches!(
        process_unmetered(bytes, crop, &Options::default()),
        Err(ImageError::TooMuchMemory { .. } | ImageError::TooManyPixels { .. })
    )
}

fn centre_crop(w: u32, h: u32, side: u32) -> CropBox {
    let s = side.min(w).min(h);
    CropBox { x: (w - s) / 2, y: (h - s) / 2, w: s, h: s }
}

/// zlib stream of `n` zero bytes: fixed-Huffman deflate, a literal 0 then
/// back-references of 258 bytes at distance 1 (13 bits each).
fn zlib_zeros(n: usize) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut bits = LsbBits::default();
    // Huffman codes go most significant bit first.
    let code = |c: u32, len: u32| c.reverse_bits() >> (32 - len);
    bits.put(1, 1); // final block
    bits.put(1, 2); // fixed Huffman
    let mut left = n;
    if left > 0 {
        bits.put(code(0x30, 8), 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        bits.put(code(0b1100_0101, 8), 8); // length 258 (code 285)
        bits.put(0, 5); // distance 1 (code 0)
        left -= 258;
    }
    for _ in 0..left {
        bits.put(code(0x30, 8), 8);
    }
    bits.put(0, 7); // end of block (code 256)
    out.extend(bits.finish());
    // Adler-32 of zeros: a = 1, b = n.
    out.extend_from_slice(&((((n % 65521) as u32) << 16) | 1).to_be_bytes());
    out
}

/// An inflated iCCP profile just within what png keeps (its limit is 4 MiB
/// of metadata): the most a PNG can hold next to its pixels.
const ICCP: usize = (4 << 20) - (64 << 10);

/// Signature, IHDR of an Adam7 RGBA PNG of `w`×`h` and an iCCP chunk of
/// `iccp` bytes (zeros), no image data.
fn png_rgba_interlaced_start(w: u32, h: u32, iccp: Option<usize>) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 1]);
    chunk(&mut out, b"IHDR", &ihdr);
    if let Some(len) = iccp {
        let mut d = b"p\0\0".to_vec();
        d.extend_from_slice(&zlib_zeros(len));
        chunk(&mut out, b"iCCP", &d);
    }
    out
}

/// The same with a tiny IDAT: passes the header, fails as damaged.
fn png_rgba_interlaced_header(w: u32, h: u32, iccp: Option<usize>) -> Vec<u8> {
    let mut out = png_rgba_interlaced_start(w, h, iccp);
    chunk(&mut out, b"IDAT", &zlib_stored(&[0; 64]));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// An Adam7 RGBA PNG of `w`×`h` transparent black pixels (compressed).
fn interlaced_rgba_png(w: u32, h: u32, iccp: Option<usize>) -> Vec<u8> {
    let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
    let mut raw = 0usize;
    for (x0, y0, dx, dy) in passes {
        let (pw, ph) = ((w + dx - 1 - x0) / dx, (h + dy - 1 - y0) / dy);
        if pw > 0 && ph > 0 {
            raw += ph as usize * (1 + pw as usize * 4);
        }
    }
    let mut out = png_rgba_interlaced_start(w, h, iccp);
    chunk(&mut out, b"IDAT", &zlib_zeros(raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A progressive 4:2:0 JPEG of `w`×`h`, uniformly grey, built by hand: a
/// DC scan and one AC scan per component, where every block is a one-bit
/// code ("no change", "end of block"). All coefficients are held while
/// decoding, as for any progressive JPEG. `icc`: bytes of ICC chunks
/// (APP2, zeros) after SOI.
fn progressive_jpeg(w: u16, h: u16, icc: usize) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    let per = 65519;
    let count = icc.div_ceil(per);
    for i in 0..count {
        let n = per.min(icc - i * per);
        out.extend_from_slice(&[0xFF, 0xE2]);
        out.extend_from_slice(&((n + 16) as u16).to_be_bytes());
        out.extend_from_slice(b"ICC_PROFILE\0");
        out.extend_from_slice(&[i as u8 + 1, count as u8]);
        out.resize(out.len() + n, 0);
    }
    grey_jpeg_tables(&mut out, 0xC2, w, h);
    let (mx, my) = (u64::from(w).div_ceil(16), u64::from(h).div_ceil(16));
    out.extend_from_slice(&[0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 0, 0]);
    out.resize(out.len() + (mx * my * 6).div_ceil(8) as usize, 0);
    for (id, blocks) in [(1u8, mx * my * 4), (2, mx * my), (3, mx * my)] {
        out.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, id, 0x00, 1, 63, 0]);
        out.resize(out.len() + blocks.div_ceil(8) as usize, 0);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A GIF with a `sw`×`sh` logical screen and a first frame of `fw`×`fh`
/// at (0, 0) (larger than the screen if asked), all colour 0: LZW codes of
/// 3 bits, a clear code every two pixels so that the width never grows.
fn gif_with_frame(sw: u16, sh: u16, fw: u16, fh: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&sw.to_le_bytes());
    out.extend_from_slice(&sh.to_le_bytes());
    out.extend_from_slice(&[0x81, 0, 0]); // global table of 4 colours
    out.extend_from_slice(&[0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0]);
    out.push(0x2C);
    for v in [0u16, 0, fw, fh] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.push(0);
    out.push(2); // minimum code size: clear = 4, end = 5
    let mut bits = LsbBits::default();
    let px = usize::from(fw) * usize::from(fh);
    for i in 0..px {
        if i % 2 == 0 {
            bits.put(4, 3);
        }
        bits.put(0, 3);
    }
    bits.put(5, 3);
    out.extend(gif_sub_blocks(&bits.finish()));
    out.push(0x3B);
    out
}

/// An 8-bit RLE BMP of `w`×`h`: runs of 255 pixels, one colour.
fn bmp_rle8(w: u32, h: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for _ in 0..h {
        let mut left = w;
        while left > 0 {
            let n = left.min(255);
            data.extend_from_slice(&[n as u8, 1]);
            left -= n;
        }
        data.extend_from_slice(&[0, 0]);
    }
    data.extend_from_slice(&[0, 1]);
    let off = 14 + 40 + 256 * 4;
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&((off + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(off as u32).to_le_bytes());
    for v in [40u32, w, h] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    for v in [1u32, data.len() as u32, 2835, 2835, 256, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for i in 0..256u32 {
        out.extend_from_slice(&[i as u8, 255 - i as u8, 128, 0]);
    }
    out.extend_from_slice(&data);
    out
}

/// RIFF chunks of a WebP file (after "WEBP"), as (fourcc, data).
fn webp_chunks(file: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 12;
    while pos + 8 <= file.len() {
        let len = u32::from_le_bytes(file[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((file[pos..pos + 4].try_into().unwrap(), file[pos + 8..pos + 8 + len].to_vec()));
        pos += 8 + len + (len & 1);
    }
    out
}

fn riff_chunk(out: &mut Vec<u8>, fourcc: &[u8], data: &[u8]) {
    out.extend_from_slice(fourcc);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

fn webp_file(chunks: &[u8]) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((chunks.len() + 4) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(chunks);
    out
}

fn vp8x(flags: u8, w: u32, h: u32) -> Vec<u8> {
    let mut d = vec![flags, 0, 0, 0];
    d.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    d.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    d
}

/// A lossy WebP with alpha (libwebp, a soft disc), still or as the first
/// frame of an animation of one frame.
fn lossy_alpha_webp(w: u32, h: u32, animated: bool) -> Vec<u8> {
    let mut px = vec![0u8; w as usize * h as usize * 4];
    for (i, p) in px.chunks_exact_mut(4).enumerate() {
        let (x, y) = ((i % w as usize) as u32, (i / w as usize) as u32);
        p.copy_from_slice(&[(x % 256) as u8, (y % 256) as u8, 90, if (x + y) % 97 < 60 { 255 } else { 40 }]);
    }
    let file = encode_lossy(&px, w, h, true, 60).unwrap();
    let chunks = webp_chunks(&file);
    let alph = &chunks.iter().find(|c| &c.0 == b"ALPH").expect("ALPH").1;
    let vp8 = &chunks.iter().find(|c| &c.0 == b"VP8 ").expect("VP8").1;
    let mut body = Vec::new();
    if animated {
        riff_chunk(&mut body, b"VP8X", &vp8x(0x12, w, h));
        riff_chunk(&mut body, b"ANIM", &[0, 0, 0, 0, 0, 0]);
        let mut frame = vec![0; 6];
        frame.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
        frame.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
        frame.extend_from_slice(&[100, 0, 0, 0]);
        riff_chunk(&mut frame, b"ALPH", alph);
        riff_chunk(&mut frame, b"VP8 ", vp8);
        riff_chunk(&mut body, b"ANMF", &frame);
    } else {
        riff_chunk(&mut body, b"VP8X", &vp8x(0x10, w, h));
        riff_chunk(&mut body, b"ALPH", alph);
        riff_chunk(&mut body, b"VP8 ", vp8);
    }
    webp_file(&body)
}

/// One worst case: its name, how to probe a size (header only, given the
/// height), how to build the real file, the width for a height, the crop.
struct Worst {
    name: &'static str,
    probe: Box<dyn Fn(u32, u32) -> Vec<u8>>,
    build: Box<dyn Fn(u32, u32) -> Vec<u8>>,
    width: fn(u32) -> u32,
    max_h: u32,
    crop: Option<u32>,
    /// Most runs (the lowest peak counts): natively jpeg-decoder hands rows
    /// to a thread per component through unbounded channels, so rows
    /// waiting there add a scheduling-dependent amount; on wasm32 it
    /// decodes each row at once, so the wasm peak is at most the lowest
    /// native one.
    runs: usize,
    /// A JPEG case at the largest size whose decode starts at this scale
    /// (n/8), rather than the largest accepted.
    scale: Option<u32>,
}

/// The scale (n/8) a JPEG's decode starts at for `crop`, as the pipeline
/// plans it.
fn jpeg_first_scale(bytes: &[u8], crop: Option<CropBox>) -> u32 {
    let work = Work::with_budget(u64::MAX, 0);
    let (_, image) = super::pipeline::open(bytes).unwrap();
    let plan = super::pipeline::plan(&*image, crop, &Options::default(), &work).unwrap();
    super::codecs::jpeg_first_scale(bytes, &plan).unwrap()
}

/// A progressive JPEG of `w`×`h` whose every block is a one-bit code in
/// each of its two scans (DC, then AC per component): what our decoder
/// keeps of a progressive file, at the most blocks a pixel (4:4:4).
fn progressive_444_jpeg(w: u32, h: u32) -> Vec<u8> {
    let (w, h) = (w as u16, h as u16);
    let blocks = jpeg_blocks(w, h, F444) / 3;
    let zeros = |bits: usize| vec![0u8; bits.div_ceil(8)];
    let mut scans = vec![(vec![1, 2, 3], 0, 0, 0, 0, zeros(3 * blocks))];
    scans.extend((1..=3).map(|id| (vec![id], 1, 63, 0, 0, zeros(blocks))));
    build_jpeg(&JpegSpec { w, h, factors: F444, progressive: true, adobe: false, dc: DC_ZERO, ac: AC_EOB, scans })
}

/// A baseline 4:4:4 JPEG of `w`×`h`, each block a DC and an end-of-block
/// code of one bit: what our decoder holds of a sequential file, at the
/// most blocks a pixel.
fn baseline_444_jpeg(w: u32, h: u32) -> Vec<u8> {
    let (w, h) = (w as u16, h as u16);
    let data = vec![0u8; (2 * jpeg_blocks(w, h, F444)).div_ceil(8)];
    let scans = vec![(vec![1, 2, 3], 0, 63, 0, 0, data)];
    build_jpeg(&JpegSpec { w, h, factors: F444, progressive: false, adobe: false, dc: DC_ZERO, ac: AC_EOB, scans })
}

fn worst_cases() -> Vec<Worst> {
    let four_thirds = |h: u32| h * 4 / 3;
    let square = |h: u32| h;
    let gif_probe = |w: u32, h: u32, f: f64| {
        let mut g = gif_with_frame(w as u16, h as u16, (f64::from(w) * f) as u16, (f64::from(h) * f) as u16);
        g.truncate(13 + 12 + 10); // header, table, descriptor: no data
        g
    };
    let icc_bomb = 254 * 65519;
    vec![
        // Our decoder at 1/2 and at full size (crops under 2048 and 1024
        // px): a JPEG as large as its memory need lets it start there. A
        // sequential one keeps two MCU rows, not the whole frame: it starts
        // at full size up to the pixel limit.
        Worst {
            name: "progressive JPEG 4:4:4, 1500 px crop (ours, 1/2)",
            probe: Box::new(progressive_444_jpeg),
            build: Box::new(progressive_444_jpeg),
            width: four_thirds,
            max_h: 8000,
            crop: Some(1500),
            runs: 1,
            scale: Some(4),
        },
        Worst {
            name: "progressive JPEG 4:4:4, 1000 px crop (ours, full size)",
            probe: Box::new(progressive_444_jpeg),
            build: Box::new(progressive_444_jpeg),
            width: four_thirds,
            max_h: 8000,
            crop: Some(1000),
            runs: 1,
            scale: Some(8),
        },
        Worst {
            name: "baseline JPEG 4:4:4, 1000 px crop (ours, full size)",
            probe: Box::new(baseline_444_jpeg),
            build: Box::new(baseline_444_jpeg),
            width: four_thirds,
            max_h: 9000,
            crop: Some(1000),
            runs: 1,
            scale: Some(8),
        },
        // Progressive JPEG goes to jpeg-decoder (all coefficients held) when
        // a finer scale than 1/8 is wanted and fits the budget, or when the
        // DC-only decoder declines the file; else the DC-only decoder takes
        // it at 1/8 with a few bytes per block.
        Worst {
            // An Adobe APP14 segment (transform 1: YCbCr, as without it)
            // makes the DC-only decoder decline: all coefficients are held.
            name: "progressive JPEG 4:2:0 + Adobe APP14 (jpeg-decoder)",
            probe: Box::new(|w, h| jpeg_header_only(w as u16, h as u16, true)),
            build: Box::new(|w, h| with_adobe_app14(progressive_jpeg(w as u16, h as u16, 0))),
            width: four_thirds,
            max_h: 8000,
            crop: None,
            runs: 10,
            scale: None,
        },
        Worst {
            name: "progressive JPEG 4:2:0 + Adobe APP14 + 16.6 MB of ICC chunks",
            probe: Box::new(move |w, h| with_adobe_app14(progressive_jpeg(w as u16, h as u16, icc_bomb))),
            build: Box::new(move |w, h| with_adobe_app14(progressive_jpeg(w as u16, h as u16, icc_bomb))),
            width: four_thirds,
            max_h: 8000,
            crop: None,
            runs: 10,
            scale: None,
        },
        Worst {
            name: "progressive JPEG 4:2:0 up to MAX_PIXELS (DC only, 1/8)",
            probe: Box::new(|w, h| progressive_jpeg(w as u16, h as u16, 0)),
            build: Box::new(|w, h| progressive_jpeg(w as u16, h as u16, 0)),
            width: four_thirds,
            max_h: 9000,
            crop: None,
            runs: 2,
            scale: None,
        },
        Worst {
            name: "interlaced RGBA PNG + 4 MiB iCCP, 1023 px crop",
            probe: Box::new(|w, h| png_rgba_interlaced_header(w, h, Some(ICCP))),
            build: Box::new(|w, h| interlaced_rgba_png(w, h, Some(ICCP))),
            width: square,
            max_h: 10000,
            crop: Some(1023),
            runs: 1,
            scale: None,
        },
        Worst {
            name: "GIF, first frame 1.25× the screen",
            probe: Box::new(move |w, h| gif_probe(w, h, 1.25)),
            build: Box::new(|w, h| gif_with_frame(w as u16, h as u16, (w * 5 / 4) as u16, (h * 5 / 4) as u16)),
            width: four_thirds,
            max_h: 8000,
            crop: None,
            runs: 1,
            scale: None,
        },
        Worst {
            name: "lossy WebP with alpha, 1023 px crop",
            probe: Box::new(|w, h| webp_header_only(w, h, b"ALPH")),
            build: Box::new(|w, h| lossy_alpha_webp(w, h, false)),
            width: four_thirds,
            max_h: 8000,
            crop: Some(1023),
            runs: 1,
            scale: None,
        },
        Worst {
            name: "animated lossy WebP with alpha",
            probe: Box::new(|w, h| webp_header_only(w, h, b"ANMF")),
            build: Box::new(|w, h| lossy_alpha_webp(w, h, true)),
            width: four_thirds,
            max_h: 8000,
            crop: None,
            runs: 1,
            scale: None,
        },
        Worst {
            name: "8-bit RLE BMP, 1023 px crop",
            probe: Box::new(|w, h| bmp_rle8(w, h)[..54].to_vec()),
            build: Box::new(bmp_rle8),
            width: square,
            max_h: 10000,
            crop: Some(1023),
            runs: 1,
            scale: None,
        },
    ]
}

const MEMORY_CHILD: &str = "AVATAR_EDGE_MEMORY_TEST_CHILD";

#[test]
fn worst_case_inputs_stay_within_the_memory_bound() {
    if std::env::var_os(MEMORY_CHILD).is_none() {
        // Run this test alone in a child process: the allocator counts
        // every thread of the process.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["imaging::tests::worst_case_inputs_stay_within_the_memory_bound", "--exact", "--nocapture"])
            .args(["--test-threads=1"])
            .env(MEMORY_CHILD, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "the child ran nothing:\n{text}");
        println!("{}", text.lines().filter(|l| l.contains(" peak ")).collect::<Vec<_>>().join("\n"));
        return;
    }
    let budget = limits::PIPELINE_BUDGET;
    let mut failures = Vec::new();
    for case in worst_cases() {
        let crop = |w: u32, h: u32| case.crop.map(|s| centre_crop(w, h, s));
        let fits = |h: u32| {
            let w = (case.width)(h);
            let probe = (case.probe)(w, h);
            match case.scale {
                Some(n) => {
                    u64::from(w) * u64::from(h) <= Options::default().max_pixels
                        && jpeg_first_scale(&probe, crop(w, h)) >= n
                }
                None => not_too_big(&probe, crop(w, h)),
            }
        };
        let h = largest_fitting(case.max_h, fits);
        assert!(h < case.max_h, "{}: the search range is too small", case.name);
        let w = (case.width)(h);
        let file = (case.build)(w, h);
        if let Some(n) = case.scale {
            assert_eq!(jpeg_first_scale(&file, crop(w, h)), n, "{}: {w}×{h}", case.name);
        }
        let mut peak = u64::MAX;
        for _ in 0..case.runs {
            let (r, p) = counting::peak_of(|| process_unmetered(&file, crop(w, h), &Options::default()));
            r.unwrap_or_else(|e| panic!("{}: {w}×{h} is accepted but fails: {e:?}", case.name));
            peak = peak.min(p);
            if peak <= budget {
                break; // one run within the budget bounds the wasm peak
            }
        }
        let total = limits::WASM_BASELINE + limits::DEFAULT_BODY_BYTES + peak;
        println!(
            "{:<48} {w:>5}×{h:<5} peak {:>6.1} MiB, total {:.1} MB",
            case.name,
            peak as f64 / 1048576.0,
            total as f64 / 1e6
        );
        if peak > budget || total > limits::MEMORY_BOUND {
            failures.push(format!("{}: {w}×{h} peaks at {peak} B > {budget} B", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_file_our_decoder_declines_goes_coarser_where_jpeg_decoder_fits() {
    // A 1500 px crop of a 3700×2775 progressive 4:4:4 JPEG: our decoder
    // fits at 1/2, jpeg-decoder (all coefficients and the RGB image) only
    // at 1/4. With an Adobe segment ours declines it, so the decode goes
    // on at 1/4 with jpeg-decoder instead of being refused.
    let (w, h) = (3700, 2775);
    let crop = Some(centre_crop(w, h, 1500));
    let plain = progressive_444_jpeg(w, h);
    assert_eq!(jpeg_first_scale(&plain, crop), 4);
    let adobe = with_adobe_app14(plain);
    assert_eq!(jpeg_first_scale(&adobe, crop), 4);
    let avatar = process_unmetered(&adobe, crop, &Options::default()).unwrap();
    assert_eq!((avatar.width, avatar.height), (w, h));
}

// ------------------------------------------------------------------ cpu
//
// The work budget (`work.rs`) and truncated JPEG scans. The files mirror
// the generators of tests/lib/cpu-bombs.mjs (the integration test and the
// fuzz seeds use those); every assertion is on codes and work units, never
// on time (bench/cpu-bound.mjs has the times).

/// A JPEG built from its parts: SOF0/SOF2 of `factors` (h << 4 | v per
/// component), quantisers 1, one DC and one AC table as (length, symbol)
/// codes, an optional Adobe APP14, and `scans`: (component ids, Ss, Se,
/// Ah, Al, entropy-coded data).
struct JpegSpec<'a> {
    w: u16,
    h: u16,
    factors: &'a [u8],
    progressive: bool,
    adobe: bool,
    dc: &'a [(u8, u8)],
    ac: &'a [(u8, u8)],
    scans: Vec<ScanSpec>,
}

/// A scan of [`JpegSpec`]: (component ids, Ss, Se, Ah, Al, entropy-coded data).
type ScanSpec = (Vec<u8>, u8, u8, u8, u8, Vec<u8>);

fn huffman_segment(class_id: u8, codes: &[(u8, u8)]) -> Vec<u8> {
    let mut counts = [0u8; 16];
    let mut sorted = codes.to_vec();
    sorted.sort();
    for &(len, _) in &sorted {
        counts[usize::from(len) - 1] += 1;
    }
    let mut body = vec![class_id];
    body.extend_from_slice(&counts);
    body.extend(sorted.iter().map(|&(_, s)| s));
    let mut seg = vec![0xFF, 0xC4];
    seg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(&body);
    seg
}

fn build_jpeg(s: &JpegSpec) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    if s.adobe {
        out = with_adobe_app14(out);
    }
    out.extend_from_slice(&[0xFF, 0xDB, 0, 67, 0]);
    out.extend_from_slice(&[1; 64]);
    let n = s.factors.len();
    out.extend_from_slice(&[0xFF, if s.progressive { 0xC2 } else { 0xC0 }]);
    out.extend_from_slice(&((8 + 3 * n) as u16).to_be_bytes());
    out.push(8);
    out.extend_from_slice(&s.h.to_be_bytes());
    out.extend_from_slice(&s.w.to_be_bytes());
    out.push(n as u8);
    for (i, &f) in s.factors.iter().enumerate() {
        out.extend_from_slice(&[i as u8 + 1, f, 0]);
    }
    out.extend(huffman_segment(0x00, s.dc));
    out.extend(huffman_segment(0x10, s.ac));
    for (ids, ss, se, ah, al, data) in &s.scans {
        out.extend_from_slice(&[0xFF, 0xDA]);
        out.extend_from_slice(&((6 + 2 * ids.len()) as u16).to_be_bytes());
        out.push(ids.len() as u8);
        for &id in ids {
            out.extend_from_slice(&[id, 0x00]);
        }
        out.extend_from_slice(&[*ss, *se, ah << 4 | al]);
        out.extend_from_slice(data);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// Blocks of an interleaved scan over every component of `factors`.
fn jpeg_blocks(w: u16, h: u16, factors: &[u8]) -> usize {
    if factors.len() == 1 {
        return usize::from(w).div_ceil(8) * usize::from(h).div_ceil(8);
    }
    let hmax = factors.iter().map(|f| usize::from(f >> 4)).max().unwrap();
    let vmax = factors.iter().map(|f| usize::from(f & 15)).max().unwrap();
    let mcus = usize::from(w).div_ceil(8 * hmax) * usize::from(h).div_ceil(8 * vmax);
    mcus * factors.iter().map(|f| usize::from(f >> 4) * usize::from(f & 15)).sum::<usize>()
}

const F444: &[u8] = &[0x11, 0x11, 0x11];
const F411: &[u8] = &[0x41, 0x11, 0x11];
/// DC category 0 as the code "0"; an AC table whose all-zero 16-bit code
/// is a 15-bit coefficient (the slowest a block can be read from zeros);
/// an AC table of one code, end of block.
const DC_ZERO: &[(u8, u8)] = &[(1, 0x00)];
const AC_SLOW: &[(u8, u8)] = &[(16, 0x0F)];
const AC_EOB: &[(u8, u8)] = &[(1, 0x00)];

/// The issue's 150-byte bomb: SOF0 10000×10000 4:4:4, AC_SLOW, an empty
/// scan (`data`: what to put in it instead), EOI.
fn empty_scan_jpeg(factors: &[u8], adobe: bool, data: Vec<u8>) -> Vec<u8> {
    let ids = (1..=factors.len() as u8).collect();
    build_jpeg(&JpegSpec {
        w: 10000,
        h: 10000,
        factors,
        progressive: false,
        adobe,
        dc: DC_ZERO,
        ac: AC_SLOW,
        scans: vec![(ids, 0, 63, 0, 0, data)],
    })
}

/// Runs the pipeline with the file's own budget: the result and the units
/// spent.
fn process_metered(bytes: &[u8], crop: Option<CropBox>) -> (Result<Avatar, ImageError>, u64, u64) {
    let work = work_for_file(bytes);
    let r = process_with_work(bytes, crop, &Options::default(), &|| 0.0, &work).map(|(a, _)| a);
    (r, work.spent(), work.budget())
}

fn is_truncated(r: &Result<Avatar, ImageError>) -> bool {
    matches!(r, Err(ImageError::Damaged { format: SourceFormat::Jpeg, detail }) if detail.starts_with("truncated"))
}

#[test]
fn the_issues_150_byte_jpeg_is_truncated_and_costs_next_to_nothing() {
    let bomb = empty_scan_jpeg(F444, false, Vec::new());
    assert_eq!(bomb.len(), 150);
    // The DC-only decoder reads its first MCU from zero bits past the
    // scan, stops there and does not hand the file on to jpeg-decoder.
    let (r, spent, budget) = process_metered(&bomb, None);
    assert!(is_truncated(&r), "{r:?}");
    assert!(spent < budget / 100, "{spent} of {budget} units");
    let msg = r.unwrap_err();
    assert!(err_en(&msg).contains("damaged or incomplete"), "{}", err_en(&msg));
    assert!(msg.message(Lang::Zh).contains("损坏或不完整"), "{}", msg.message(Lang::Zh));
    // Where jpeg-decoder would decode it (an Adobe segment, 4:1:1, a crop
    // box that needs a finer scale), the scan's length is checked first:
    // nothing is decoded at all.
    let crop = Some(CropBox { x: 5000, y: 5000, w: 300, h: 300 });
    for (name, bomb, crop) in [
        ("Adobe", empty_scan_jpeg(F444, true, Vec::new()), None),
        ("4:1:1", empty_scan_jpeg(F411, false, Vec::new()), None),
        ("crop", empty_scan_jpeg(F444, false, Vec::new()), crop),
    ] {
        let (r, spent, _) = process_metered(&bomb, crop);
        assert!(is_truncated(&r), "{name}: {r:?}");
        assert_eq!(spent, 0, "{name}");
    }
}

#[test]
fn a_scan_long_enough_for_its_blocks_that_still_runs_out_is_truncated() {
    // Two bits a block of zeros pass the length check, but with the slow
    // AC table each block takes 1,954 bits: the data covers a few thousand
    // blocks and the rest would come from zero bits past the scan.
    let zeros = vec![0u8; jpeg_blocks(10000, 10000, F444).div_ceil(4)];
    for adobe in [false, true] {
        let bomb = empty_scan_jpeg(F444, adobe, zeros.clone());
        let (r, spent, budget) = process_metered(&bomb, None);
        assert!(is_truncated(&r), "adobe {adobe}: {r:?}");
        // The DC-only decoder, or (Adobe) the check before jpeg-decoder,
        // stops at the end of the data: a sliver of the budget.
        assert!(spent < budget / 10, "adobe {adobe}: {spent} of {budget} units");
    }
}

#[test]
fn progressive_scans_that_run_out_are_truncated() {
    // 64 scans: a DC first scan and refinements, all empty (the DC-only
    // decoder's loop of one bit a block).
    let ids: Vec<u8> = vec![1, 2, 3];
    let mut scans = vec![(ids.clone(), 0, 0, 0, 13, Vec::new())];
    let mut al = 12u8;
    while scans.len() < 64 {
        scans.push((ids.clone(), 0, 0, al + 1, al, Vec::new()));
        al = al.saturating_sub(1);
    }
    let spec =
        JpegSpec { w: 10000, h: 10000, factors: F444, progressive: true, adobe: false, dc: DC_ZERO, ac: AC_EOB, scans };
    let (r, spent, _) = process_metered(&build_jpeg(&spec), None);
    assert!(is_truncated(&r), "{r:?}");
    assert!(spent < 1_000_000, "{spent}");
    // A complete DC scan, then AC scans with no data (Adobe: jpeg-decoder's
    // file, checked first by walking every scan).
    let (w, h) = (3400u16, 3400u16);
    let dc = vec![0u8; jpeg_blocks(w, h, F444).div_ceil(8)];
    let mut scans = vec![(ids.clone(), 0, 0, 0, 0, dc)];
    for i in 0..63 {
        scans.push((vec![i % 3 + 1], 1, 63, 0, 0, Vec::new()));
    }
    let spec = JpegSpec { w, h, factors: F444, progressive: true, adobe: true, dc: DC_ZERO, ac: AC_SLOW, scans };
    let (r, spent, budget) = process_metered(&build_jpeg(&spec), None);
    assert!(is_truncated(&r), "{r:?}");
    assert!(spent < budget, "{spent} of {budget}");
}

/// End-of-band runs (symbols r << 4, 4-bit codes r) covering `blocks`,
/// bits most significant first, padded with ones, 0xFF stuffed.
fn eob_runs(blocks: usize) -> Vec<u8> {
    let mut bits: Vec<bool> = Vec::new();
    let mut put = |v: usize, n: u32| bits.extend((0..n).rev().map(|i| v >> i & 1 == 1));
    let mut left = blocks;
    while left > 0 {
        let run = left.min(32767);
        let r = run.ilog2();
        put(r as usize, 4);
        put(run - (1 << r), r);
        left -= run;
    }
    while !bits.len().is_multiple_of(8) {
        bits.push(true);
    }
    let mut out = Vec::new();
    for byte in bits.chunks(8).map(|c| c.iter().fold(0u8, |b, &bit| b << 1 | u8::from(bit))) {
        out.push(byte);
        if byte == 0xFF {
            out.push(0);
        }
    }
    out
}

#[test]
fn valid_scans_that_cover_far_more_blocks_than_bytes_spend_the_budget() {
    // 63 AC scans of a few end-of-band codes each over 3400×3400: valid
    // data, 11 M block visits by jpeg-decoder for a 70 KB file.
    let (w, h) = (3400u16, 3400u16);
    let ids: Vec<u8> = vec![1, 2, 3];
    let dc = vec![0u8; jpeg_blocks(w, h, F444).div_ceil(8)];
    let mut scans = vec![(ids, 0, 0, 0, 0, dc)];
    for i in 0..63 {
        scans.push((vec![i % 3 + 1], 1, 63, 0, 0, eob_runs(jpeg_blocks(w, h, &[0x11]))));
    }
    let runs: Vec<(u8, u8)> = (0..15).map(|r| (4, r << 4)).collect();
    let spec = JpegSpec { w, h, factors: F444, progressive: true, adobe: true, dc: DC_ZERO, ac: &runs, scans };
    let bomb = build_jpeg(&spec);
    // The data is complete: the unmetered pipeline decodes it.
    assert!(process_unmetered(&bomb, None, &Options::default()).is_ok());
    let (r, spent, budget) = process_metered(&bomb, None);
    let Err(ImageError::TooMuchWork { width: 3400, height: 3400, bytes, max_pixels, .. }) = r else { panic!("{r:?}") };
    assert_eq!(bytes, bomb.len() as u64);
    assert!(max_pixels < 3400 * 3400 / 4, "{max_pixels}");
    assert!(spent <= budget);
}

/// A zlib stream of `n` zeros at deflate's densest (2 bits per 258 bytes),
/// as tests/lib/cpu-bombs.mjs writes it.
fn zlib_zeros_dense(n: usize) -> Vec<u8> {
    struct Lsb(Vec<u8>, u64, u32);
    impl Lsb {
        fn put(&mut self, v: u64, bits: u32) {
            self.1 |= v << self.2;
            self.2 += bits;
            while self.2 >= 8 {
                self.0.push(self.1 as u8);
                self.1 >>= 8;
                self.2 -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, c: u64, len: u32) {
            for i in (0..len).rev() {
                self.put(c >> i & 1, 1);
            }
        }
    }
    let mut w = Lsb(vec![0x78, 0xDA], 0, 0);
    w.put(1, 1);
    w.put(2, 2);
    w.put(286 - 257, 5);
    w.put(0, 5);
    w.put(18 - 4, 4);
    let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1];
    for s in order {
        w.put(
            match s {
                18 => 1,
                1 | 2 => 2,
                _ => 0,
            },
            3,
        );
    }
    // Code-length codes: 18 "0", 1 "10", 2 "11".
    let zeros = |w: &mut Lsb, mut count: u64| {
        while count > 0 {
            let k = count.min(138);
            w.code(0, 1);
            w.put(k - 11, 7);
            count -= k;
        }
    };
    w.code(3, 2); // symbol 0: length 2
    zeros(&mut w, 255);
    w.code(3, 2); // 256: length 2
    zeros(&mut w, 28);
    w.code(2, 2); // 285: length 1
    w.code(2, 2); // the distance code: length 1
                  // Literal/length codes: 285 "0", 0 "10", 256 "11"; distance "0".
    w.code(2, 2);
    let mut left = n - 1;
    while left >= 258 {
        w.put(0, 2);
        left -= 258;
    }
    for _ in 0..left {
        w.code(2, 2);
    }
    w.code(3, 2);
    if w.2 > 0 {
        w.put(0, 8 - w.2);
    }
    let mut out = w.0;
    out.extend_from_slice(&((((n % 65521) as u32) << 16) | 1).to_be_bytes());
    out
}

/// A PNG of `w`×`h` zero samples, `depth` bits, colour type `ct`, at
/// deflate's limit.
fn png_zeros(w: u32, h: u32, depth: u8, ct: u8) -> Vec<u8> {
    let channels = match ct {
        0 | 3 => 1,
        2 => 3,
        4 => 2,
        _ => 4,
    };
    let row = (w as usize * channels * usize::from(depth)).div_ceil(8) + 1;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, ct, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    if ct == 3 {
        chunk(&mut out, b"PLTE", &[0, 0, 0, 255, 255, 255]);
    }
    chunk(&mut out, b"IDAT", &zlib_zeros_dense(row * h as usize));
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn the_issues_16_bit_png_of_zeros_stops_at_its_budget() {
    let bomb = png_zeros(10000, 10000, 16, 6);
    assert!((770_000..780_000).contains(&bomb.len()), "{}", bomb.len());
    // Valid (a small one decodes to black).
    let small = png_zeros(64, 64, 16, 6);
    assert!(process(&small, None, &png_out(32)).is_ok());
    let (r, spent, budget) = process_metered(&bomb, None);
    let e = r.unwrap_err();
    let ImageError::TooMuchWork { width: 10000, height: 10000, max_pixels, .. } = e else { panic!("{e:?}") };
    assert!(spent <= budget);
    // The refusal says what a PNG of this size may be.
    assert!((1_000_000..20_000_000).contains(&max_pixels), "{max_pixels}");
    let en = err_en(&e);
    assert!(en.contains("this 775 KB PNG declares 10000×10000 = 100 MP") && en.contains("at most"), "{en}");
    let zh = e.message(Lang::Zh);
    assert!(zh.contains("775 KB") && zh.contains("10000×10000 = 100 MP") && zh.contains("最多"), "{zh}");
    // Not a single English word in the Chinese text but format and units.
    let latin: Vec<&str> = zh.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty()).collect();
    assert!(latin.iter().all(|w| ["KB", "PNG", "MP"].contains(w)), "{latin:?}");
}

/// A lossless WebP whose five prefix codes have one symbol each: the
/// pixels cost no bits (opaque black).
fn webp_lossless_flat(w: u32, h: u32) -> Vec<u8> {
    let mut bits = LsbBits::default();
    bits.put(0x2F, 8);
    bits.put(w - 1, 14);
    bits.put(h - 1, 14);
    bits.put(0, 1 + 3 + 1 + 1 + 1);
    for symbol in [0, 0, 0, 255, 0] {
        bits.put(1, 1);
        bits.put(0, 1);
        bits.put(1, 1);
        bits.put(symbol, 8);
    }
    let data = bits.finish();
    let mut body = Vec::new();
    riff_chunk(&mut body, b"VP8L", &data);
    webp_file(&body)
}

#[test]
fn files_that_declare_more_than_they_hold_are_refused_within_their_budget() {
    // The whole-frame decoders are charged before they run: nothing is
    // decoded and nothing spent.
    for (name, bomb, format) in [
        ("lossless WebP of one-symbol codes", webp_lossless_flat(2800, 2800), SourceFormat::Webp),
        (
            "RLE BMP ending at once",
            {
                let mut b = bmp_rle8(4800, 3700)[..54 + 1024].to_vec();
                b.extend_from_slice(&[0, 1]);
                b
            },
            SourceFormat::Bmp,
        ),
    ] {
        assert!(bomb.len() < 1100, "{name}: {}", bomb.len());
        let (r, spent, _) = process_metered(&bomb, None);
        assert!(matches!(r, Err(ImageError::TooMuchWork { format: f, .. }) if f == format), "{name}: {r:?}");
        assert_eq!(spent, 0, "{name}");
    }
    // The same construction at a size its bytes allow decodes.
    assert!(process(&webp_lossless_flat(256, 256), None, &png_out(32)).is_ok());
}

#[test]
fn flat_images_of_a_few_megapixels_and_real_sizes_pass() {
    // A solid-colour 2 MP PNG (a logo), at deflate's limit: ~6 KB.
    let logo = png_zeros(1632, 1224, 8, 2);
    assert!(logo.len() < 7_000, "{}", logo.len());
    let (r, spent, budget) = process_metered(&logo, None);
    assert!(r.is_ok(), "{r:?}");
    assert!(spent < budget);
    // A 100 MP baseline JPEG at the least a baseline 4:2:0 file can be
    // (2 bits a block, 586 KB), with and without a crop: the DC-only
    // decoder, or a coarser scale than the crop wanted, fits its budget.
    let grey = big_grey_jpeg(12_000, 8_333);
    for crop in [None, Some(CropBox { x: 5000, y: 4000, w: 300, h: 300 })] {
        let (r, spent, budget) = process_metered(&grey, crop);
        assert!(r.is_ok(), "{crop:?}: {r:?}");
        assert!(spent <= budget);
    }
}

#[test]
fn the_budget_grows_with_the_file_at_its_formats_rate() {
    use super::work::{per_byte, BASE};
    // Headers that open, padded to the size wanted.
    let padded = |mut f: Vec<u8>, n: usize| {
        f.resize(n, 0);
        f
    };
    let png = |n: usize| padded(png_header_only(16, 16), n);
    assert_eq!(work_for_file(&png(1000)).budget(), BASE + 1000 * per_byte::PNG);
    assert!(work_for_file(&png(2 << 20)).budget() > work_for_file(&png(1 << 20)).budget());
    // WebP: lossless (VP8L, an ALPH plane, animation) at its own rate.
    let webp = |first: &[u8; 4], data: &[u8], then: Option<&[u8; 4]>| {
        let mut body = Vec::new();
        riff_chunk(&mut body, first, data);
        if let Some(fourcc) = then {
            riff_chunk(&mut body, fourcc, &[0; 24]);
        }
        padded(webp_file(&body), 1000)
    };
    let vp8l = webp(b"VP8L", &[0x2F, 0, 0, 0, 0], None);
    let vp8 = webp(b"VP8 ", &[0, 0, 0, 0x9D, 0x01, 0x2A, 1, 0, 1, 0], None);
    let anmf = webp(b"VP8X", &vp8x(0x02, 1, 1), Some(b"ANMF"));
    assert_eq!(work_for_file(&vp8l).budget(), BASE + 1000 * per_byte::WEBP_LOSSLESS);
    assert_eq!(work_for_file(&vp8).budget(), BASE + 1000 * per_byte::WEBP_LOSSY);
    assert_eq!(work_for_file(&anmf).budget(), BASE + 1000 * per_byte::WEBP_LOSSLESS);
    // Not an image: nothing to decode, the base.
    assert_eq!(work_for_file(b"<svg></svg>").budget(), BASE);
    assert_eq!(work_for_file(&[]).budget(), BASE);
}

#[test]
fn work_units_follow_the_loops() {
    // A 64×48 8-bit RGB PNG, centre crop: the file's bytes (inflating),
    // each row's raw bytes and pixels, then the collector's rows (every
    // row) and the square's pixels (48 rows of 48).
    let png = enc_png(&DynamicImage::ImageRgb8(quadrants(64, 48)));
    let (r, spent, _) = process_metered(&png, None);
    assert!(r.is_ok());
    let rows = 48 * ((64 * 3 + 1) * cost::PNG_RAW_BYTE + 64 * cost::PNG_PIXEL);
    let collector = 48 * cost::COLLECT_ROW + 48 * 48 * cost::COLLECT_PIXEL;
    assert_eq!(spent, png.len() as u64 * cost::PNG_FILE_BYTE + rows + collector);
    // The DC-only JPEG decoder: per MCU row, its blocks and the bytes the
    // previous row read; the 1/8-scale rows to the collector.
    let grey = big_grey_jpeg(4096, 4096);
    let (r, spent, _) = process_metered(&grey, None);
    assert!(r.is_ok());
    let blocks = (256 * 256 * 6) as u64;
    let data = (blocks * 2).div_ceil(8);
    let collector = 512 * cost::COLLECT_ROW + 512 * 512 * cost::COLLECT_PIXEL;
    // The last row's bytes are read after the last charge.
    let expected = blocks * cost::JPEG_DC_BLOCK + data * cost::JPEG_ENTROPY_BYTE + collector;
    assert!(
        spent <= expected && spent + 256 * 6 * 2 / 8 * cost::JPEG_ENTROPY_BYTE >= expected,
        "{spent} vs {expected}"
    );
}

mod animation {
    use super::*;
    use crate::imaging::{Animation, AnimationLimit};

    /// A GIF of `n` 24×16 frames alternating red and blue, `delay` cs each.
    fn animated_gif(n: usize, delay: u16) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = gif::Encoder::new(&mut out, 24, 16, &[0, 0, 0, 255, 0, 0, 0, 0, 255]).unwrap();
            enc.set_repeat(gif::Repeat::Infinite).unwrap();
            for i in 0..n {
                let mut f = gif::Frame::from_indexed_pixels(24, 16, vec![1 + (i % 2) as u8; 24 * 16], Some(0));
                f.delay = delay;
                enc.write_frame(&f).unwrap();
            }
        }
        out
    }

    fn keep() -> Options {
        Options { size: 16, ..Options::default() }
    }

    /// The ANMF frames of an animated WebP, decoded by `image`.
    fn frames_of(webp: &[u8]) -> Vec<image::Frame> {
        use image::AnimationDecoder;
        let dec = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(webp)).unwrap();
        dec.into_frames().collect_frames().unwrap()
    }

    #[test]
    fn an_animated_gif_becomes_an_animated_webp() {
        let a = process(&animated_gif(3, 20), None, &keep()).unwrap();
        assert_eq!(a.frames, 3);
        let frames = frames_of(&a.bytes);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].delay().numer_denom_ms().0, 200);
        let px = |i: usize| frames[i].buffer().get_pixel(8, 8).0;
        assert!(px(0)[0] > 200 && px(0)[2] < 60, "{:?}", px(0));
        assert!(px(1)[2] > 200 && px(1)[0] < 60, "{:?}", px(1));
        // The crop box applies to every picture.
        let cropped = process(&animated_gif(2, 20), Some(CropBox { x: 0, y: 0, w: 8, h: 8 }), &keep()).unwrap();
        assert_eq!(frames_of(&cropped.bytes).len(), 2);
    }

    #[test]
    fn an_animated_webp_stays_animated() {
        let a = process(ANIM_WEBP, None, &keep()).unwrap();
        assert!(a.frames > 1, "{}", a.frames);
        assert_eq!(frames_of(&a.bytes).len() as u32, a.frames);
    }

    #[test]
    fn first_or_another_format_keeps_one_picture() {
        let first = process(&animated_gif(3, 20), None, &Options { animation: Animation::First, ..keep() }).unwrap();
        assert_eq!(first.frames, 1);
        assert!(!first.bytes.windows(4).any(|w| w == b"ANIM"));
        let png = process(&animated_gif(3, 20), None, &png_out(16)).unwrap();
        assert_eq!(png.frames, 1);
    }

    #[test]
    fn a_file_too_small_for_its_pictures_work_becomes_a_still() {
        use crate::imaging::work::{cost, per_byte};
        // Flat frames at the default avatar size: a few dozen bytes a
        // frame, far less than a picture's encoding is allowed per byte.
        let flat = animated_gif(40, 10);
        let opts = Options::default();
        let picture = cost::ANIMATION_PICTURE_PIXEL * u64::from(opts.size).pow(2);
        assert!(40 * picture > per_byte::ANIMATION * flat.len() as u64, "{} bytes", flat.len());
        let work = crate::imaging::pipeline::work_for_file(&flat);
        let (still, _) = crate::imaging::pipeline::process_with_work(&flat, None, &opts, &|| 0.0, &work).unwrap();
        assert_eq!(still.frames, 1);
        assert!(!still.bytes.windows(4).any(|w| w == b"ANIM"));
        assert!(work.spent() < picture, "only the first picture decoded: {} units", work.spent());
        // At a small avatar size the same pictures are cheap enough to keep.
        assert_eq!(process(&flat, None, &keep()).unwrap().frames, 40);
    }

    #[test]
    fn every_kept_picture_is_charged() {
        use crate::imaging::work::cost;
        let gif = animated_gif(6, 10);
        let work = crate::imaging::pipeline::work_for_file(&gif);
        let (a, _) = crate::imaging::pipeline::process_with_work(&gif, None, &keep(), &|| 0.0, &work).unwrap();
        assert_eq!(a.frames, 6);
        assert!(work.spent() >= 6 * cost::ANIMATION_PICTURE_PIXEL * 16 * 16, "{} units", work.spent());
    }

    #[test]
    fn too_many_pictures_are_refused_naming_the_limit() {
        let max = crate::imaging::limits::MAX_FRAMES as usize;
        let e = process(&animated_gif(max + 1, 5), None, &keep()).unwrap_err();
        assert_eq!(
            e,
            ImageError::AnimationTooBig {
                format: SourceFormat::Gif,
                over: AnimationLimit::Frames { frames: max as u32 + 1, max: max as u32 }
            }
        );
        assert!(e.message(Lang::En).contains("ANIMATION=first"));
        assert!(process(&animated_gif(max, 5), None, &keep()).is_ok());
        // The same file kept as its first picture is fine.
        assert!(process(&animated_gif(max + 1, 5), None, &Options { animation: Animation::First, ..keep() }).is_ok());
    }
}
