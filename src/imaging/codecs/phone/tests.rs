//! The pure parts of the AVIF/HEIC path, natively: the container reader on
//! files built here box by box (and hostile variants of them), the
//! orientation, the scale, the estimates, the colour profile and the ABI's
//! layout against the C header. The decoder modules themselves run in
//! workerd (tests/integration/phone*.test.mjs).

use super::ffi::{self, RawResult, Request};
use super::heif::{read, sniff, Chroma, Cicp, Grid, HeifError, PhoneKind, Transform};
use super::plan::*;
use crate::imaging::error::Variant;
use crate::imaging::orient::{Orient, Orientation};

// ---------------------------------------------------------------- files

fn bx(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend(body);
    b
}
fn full(kind: &[u8; 4], version: u8, flags: u32, parts: &[&[u8]]) -> Vec<u8> {
    let mut head = vec![version];
    head.extend_from_slice(&flags.to_be_bytes()[1..]);
    let mut all: Vec<&[u8]> = vec![&head];
    all.extend_from_slice(parts);
    bx(kind, &all)
}
fn u16b(v: u16) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}
fn u32b(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// A HEIF file description, written by [`Spec::build`].
#[derive(Clone)]
struct Spec {
    brands: Vec<&'static [u8; 4]>,
    codec: &'static [u8; 4],
    width: u32,
    height: u32,
    /// `(rows, cols, tile_w, tile_h)`: a grid of that many tiles.
    grid: Option<(u32, u32, u32, u32)>,
    /// Extra properties of the primary item (irot, imir, colr ...).
    props: Vec<Vec<u8>>,
    /// av1C byte 2 / hvcC bytes 16-17.
    config: Vec<u8>,
    alpha: bool,
    /// The grid's description, if not the one matching the spec.
    grid_desc: Option<Vec<u8>>,
    /// Tiles referenced (if not rows × cols).
    tile_refs: Option<u16>,
    item_count: Option<u32>,
    no_ispe: bool,
}

impl Spec {
    fn avif(w: u32, h: u32) -> Spec {
        Spec {
            brands: vec![b"avif", b"mif1", b"miaf"],
            codec: b"av01",
            width: w,
            height: h,
            grid: None,
            props: vec![],
            config: bx(b"av1C", &[&[0x81, 0x00, 0x0c, 0x00]]),
            alpha: false,
            grid_desc: None,
            tile_refs: None,
            item_count: None,
            no_ispe: false,
        }
    }
    fn heic(w: u32, h: u32) -> Spec {
        let mut hvcc = vec![1u8; 23];
        hvcc[16] = 0xfc | 1; // 4:2:0
        hvcc[17] = 0xf8; // 8 bits
        hvcc[22] = 0; // no arrays
        Spec { brands: vec![b"heic", b"mif1"], codec: b"hvc1", config: bx(b"hvcC", &[&hvcc]), ..Spec::avif(w, h) }
    }

    fn build(&self) -> Vec<u8> {
        let ispe = |w: u32, h: u32| full(b"ispe", 0, 0, &[&u32b(w), &u32b(h)]);
        let infe = |id: u16, t: &[u8; 4]| full(b"infe", 2, 0, &[&u16b(id), &u16b(0), t, &[0]]);
        // Properties: 1 = codec config, 2 = primary ispe, 3 = tile ispe, 4.. = extras, then auxC.
        let mut ipco: Vec<Vec<u8>> = vec![self.config.clone(), ispe(self.width, self.height)];
        let (tw, th) = self.grid.map_or((self.width, self.height), |g| (g.2, g.3));
        ipco.push(ispe(tw, th));
        let extra_first = ipco.len() as u8 + 1;
        ipco.extend(self.props.iter().cloned());
        let auxc_idx = ipco.len() as u8 + 1;
        ipco.push(full(b"auxC", 0, 0, &[b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha\0"]));
        let extras: Vec<u8> = (0..self.props.len() as u8).map(|i| extra_first + i).collect();

        let mut items: Vec<Vec<u8>> = vec![];
        let mut assoc: Vec<(u16, Vec<u8>)> = vec![];
        let mut iref: Vec<Vec<u8>> = vec![];
        let mut iloc: Vec<Vec<u8>> = vec![];
        let primary: u16 = 1;
        let mut primary_props = if self.no_ispe { vec![] } else { vec![2u8] };
        primary_props.extend(&extras);
        if let Some((rows, cols, ..)) = self.grid {
            items.push(infe(1, b"grid"));
            let n = rows * cols;
            for i in 0..n {
                items.push(infe(2 + i as u16, self.codec));
                assoc.push((2 + i as u16, vec![0x81, 3]));
            }
            assoc.insert(0, (1, primary_props));
            let refs = self.tile_refs.unwrap_or(n as u16);
            let ids: Vec<u8> = (0..refs).flat_map(|i| u16b(2 + i)).collect();
            iref.push(bx(b"dimg", &[&u16b(1), &u16b(refs), &ids]));
            let desc = self.grid_desc.clone().unwrap_or_else(|| {
                let mut d = vec![0, 0, (rows - 1) as u8, (cols - 1) as u8];
                d.extend(u16b(self.width as u16));
                d.extend(u16b(self.height as u16));
                d
            });
            // The grid description in idat (construction method 1).
            iloc.push([u16b(1), u16b(1), u16b(0), u16b(1), u32b(0), u32b(desc.len() as u32)].concat());
            let idat = bx(b"idat", &[&desc]);
            return self.finish(items, assoc, iref, iloc, ipco, Some(idat), primary, auxc_idx);
        }
        items.push(infe(1, self.codec));
        let mut p = vec![0x81];
        p.extend(primary_props);
        assoc.push((1, p));
        self.finish(items, assoc, iref, iloc, ipco, None, primary, auxc_idx)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        mut items: Vec<Vec<u8>>,
        mut assoc: Vec<(u16, Vec<u8>)>,
        mut iref: Vec<Vec<u8>>,
        iloc: Vec<Vec<u8>>,
        ipco: Vec<Vec<u8>>,
        idat: Option<Vec<u8>>,
        primary: u16,
        auxc_idx: u8,
    ) -> Vec<u8> {
        if self.alpha {
            items.push(infe_raw(900, self.codec));
            assoc.push((900, vec![0x81, 3, auxc_idx]));
            iref.push(bx(b"auxl", &[&u16b(900), &u16b(1), &u16b(primary)]));
        }
        let mut brands = self.brands[0].to_vec();
        brands.extend(u32b(0));
        for b in &self.brands {
            brands.extend_from_slice(*b);
        }
        let ftyp = bx(b"ftyp", &[&brands]);
        let count = self.item_count.unwrap_or(items.len() as u32) as u16;
        let iinf = full(b"iinf", 0, 0, &[&u16b(count), &items.concat()]);
        let ipma_entries: Vec<u8> =
            assoc.iter().flat_map(|(id, ps)| [u16b(*id), vec![ps.len() as u8], ps.clone()].concat()).collect();
        let ipma = full(b"ipma", 0, 0, &[&u32b(assoc.len() as u32), &ipma_entries]);
        let iprp = bx(b"iprp", &[&bx(b"ipco", &[&ipco.concat()]), &ipma]);
        let iloc = full(b"iloc", 1, 0, &[&[0x44, 0x00], &u16b(iloc.len() as u16), &iloc.concat()]);
        let pitm = full(b"pitm", 0, 0, &[&u16b(primary)]);
        let iref = if iref.is_empty() { vec![] } else { full(b"iref", 0, 0, &[&iref.concat()]) };
        let hdlr = full(b"hdlr", 0, 0, &[&[0; 4], b"pict", &[0; 13]]);
        let meta = full(b"meta", 0, 0, &[&hdlr, &pitm, &iloc, &iinf, &iref, &iprp, &idat.unwrap_or_default()]);
        [ftyp, meta, bx(b"mdat", &[&[0; 16]])].concat()
    }
}

fn infe_raw(id: u16, t: &[u8; 4]) -> Vec<u8> {
    full(b"infe", 2, 0, &[&u16b(id), &u16b(0), t, &[0]])
}

fn irot(k: u8) -> Vec<u8> {
    bx(b"irot", &[&[k]])
}
fn imir(a: u8) -> Vec<u8> {
    bx(b"imir", &[&[a]])
}
fn nclx(p: u16, t: u16, m: u16, full_range: bool) -> Vec<u8> {
    bx(b"colr", &[b"nclx", &u16b(p), &u16b(t), &u16b(m), &[if full_range { 0x80 } else { 0 }]])
}
fn prof(icc: &[u8]) -> Vec<u8> {
    bx(b"colr", &[b"prof", icc])
}

// ---------------------------------------------------------------- container

#[test]
fn sniffs_the_brands_and_the_primary_items_codec() {
    assert_eq!(sniff(&Spec::avif(10, 10).build()), Some(PhoneKind::Avif));
    assert_eq!(sniff(&Spec::heic(10, 10).build()), Some(PhoneKind::Heic));
    // Only the generic brands: the primary item (or a grid's tile) decides.
    let generic = |s: Spec| Spec { brands: vec![b"mif1", b"miaf"], ..s }.build();
    assert_eq!(sniff(&generic(Spec::avif(10, 10))), Some(PhoneKind::Avif));
    assert_eq!(sniff(&generic(Spec { grid: Some((1, 2, 8, 10)), ..Spec::heic(16, 10) })), Some(PhoneKind::Heic));
    assert_eq!(sniff(&generic(Spec { codec: b"jpeg", ..Spec::avif(10, 10) })), None);
    // An MP4 video, a QuickTime movie, not ISOBMFF at all.
    assert_eq!(sniff(&bx(b"ftyp", &[b"isom", &[0; 4], b"isomiso2mp41"])), None);
    assert_eq!(sniff(&bx(b"ftyp", &[b"qt  ", &[0; 4]])), None);
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), None);
    assert_eq!(sniff(&[]), None);
}

#[test]
fn reads_size_depth_chroma_colour_and_orientation() {
    let icc = b"ICC PROFILE BYTES";
    let spec = Spec {
        props: vec![irot(3), nclx(12, 13, 6, true), prof(icc)],
        config: bx(b"av1C", &[&[0x81, 0x00, 0x4c, 0x00]]), // high bit depth, 4:2:0
        ..Spec::avif(4032, 3024)
    };
    let file = spec.build();
    let h = read(&file, PhoneKind::Avif).unwrap();
    assert_eq!((h.width, h.height, h.depth, h.chroma), (4032, 3024, 10, Chroma::Yuv420));
    assert_eq!(h.grid, None);
    assert_eq!(h.alpha, None);
    assert_eq!(h.transforms, vec![Transform::Rotate(3)]);
    assert_eq!(&file[h.icc.clone().unwrap()], icc);
    assert_eq!(h.nclx, Some(Cicp { primaries: 12, transfer: 13, matrix: 6, full_range: true }));
    assert_eq!(orientation(&h.transforms), Orientation::Rotate90);

    let heic = Spec { props: vec![imir(1)], ..Spec::heic(640, 480) }.build();
    let h = read(&heic, PhoneKind::Heic).unwrap();
    assert_eq!((h.width, h.height, h.depth, h.chroma), (640, 480, 8, Chroma::Yuv420));
    assert_eq!(orientation(&h.transforms), Orientation::FlipHorizontal);
}

#[test]
fn reads_an_iphone_like_grid_and_an_alpha_plane() {
    let spec = Spec { grid: Some((6, 8, 512, 512)), props: vec![irot(3)], ..Spec::heic(4032, 3024) };
    let h = read(&spec.build(), PhoneKind::Heic).unwrap();
    assert_eq!(h.grid, Some(Grid { rows: 6, cols: 8, tile_w: 512, tile_h: 512 }));
    assert_eq!(h.items, 49);
    let a = read(&Spec { alpha: true, ..Spec::avif(100, 80) }.build(), PhoneKind::Avif).unwrap();
    assert_eq!(a.alpha, Some(8));
}

#[test]
fn hostile_or_broken_containers_are_refused_before_any_decoder() {
    let damaged = |s: Spec, kind| match read(&s.build(), kind) {
        Err(HeifError::Damaged(_)) => {}
        other => panic!("{other:?}"),
    };
    // Grid tiles that do not cover the image, cover it with a tile to
    // spare, or are missing; a grid description disagreeing with ispe.
    damaged(Spec { grid: Some((2, 2, 100, 100)), ..Spec::heic(300, 150) }, PhoneKind::Heic);
    damaged(Spec { grid: Some((3, 2, 100, 100)), ..Spec::heic(200, 150) }, PhoneKind::Heic);
    damaged(Spec { grid: Some((2, 2, 100, 100)), tile_refs: Some(3), ..Spec::heic(200, 200) }, PhoneKind::Heic);
    damaged(
        Spec {
            grid: Some((2, 2, 100, 100)),
            grid_desc: Some(vec![0, 0, 1, 1, 0x7f, 0xff, 0x7f, 0xff]),
            ..Spec::heic(200, 200)
        },
        PhoneKind::Heic,
    );
    // No ispe; too many items declared.
    damaged(Spec { no_ispe: true, ..Spec::avif(10, 10) }, PhoneKind::Avif);
    damaged(Spec { item_count: Some(MAX_ITEMS_PLUS), ..Spec::avif(10, 10) }, PhoneKind::Avif);
    // Truncated anywhere: never a panic, never success with garbage.
    let file = Spec { grid: Some((2, 2, 64, 64)), props: vec![irot(1), nclx(1, 13, 1, false)], ..Spec::heic(128, 128) }
        .build();
    for n in 0..file.len() {
        let _ = read(&file[..n], PhoneKind::Heic);
        let _ = sniff(&file[..n]);
    }
    // A sequence without a primary item; another codec's primary item.
    let seq = [bx(b"ftyp", &[b"avis", &[0; 4], b"avismif1"]), bx(b"moov", &[&[0; 8]])].concat();
    assert_eq!(read(&seq, PhoneKind::Avif), Err(HeifError::Unsupported(Variant::Sequence)));
    assert!(matches!(
        read(&Spec { codec: b"jpeg", ..Spec::avif(10, 10) }.build(), PhoneKind::Avif),
        Err(HeifError::Unsupported(_))
    ));
    // A huge ispe parses (the limits refuse it, naming its size).
    let h = read(&Spec::avif(60000, 60000).build(), PhoneKind::Avif).unwrap();
    assert_eq!((h.width, h.height), (60000, 60000));
}

const MAX_ITEMS_PLUS: u32 = super::heif::MAX_ITEMS + 1;

// ---------------------------------------------------------------- orientation

/// An `n`×`n` square turned as the HEIF spec defines: `irot` anticlockwise,
/// `imir` 0 exchanging top and bottom, 1 left and right.
fn transform(sq: &[u8], n: usize, t: Transform) -> Vec<u8> {
    let mut out = vec![0; n * n];
    for y in 0..n {
        for x in 0..n {
            let (sx, sy) = match t {
                Transform::Rotate(_) => (n - 1 - y, x), // one quarter turn anticlockwise
                Transform::Mirror(0) => (x, n - 1 - y),
                Transform::Mirror(_) => (n - 1 - x, y),
            };
            out[y * n + x] = sq[sy * n + sx];
        }
    }
    match t {
        Transform::Rotate(k) if k % 4 > 1 => transform(&out, n, Transform::Rotate(k - 1)),
        Transform::Rotate(0) => sq.to_vec(),
        _ => out,
    }
}

#[test]
fn irot_and_imir_become_the_exif_orientation_that_turns_the_same_way() {
    let n = 3;
    let sq: Vec<u8> = (0..9).collect();
    let all = [
        vec![],
        vec![Transform::Rotate(1)],
        vec![Transform::Rotate(2)],
        vec![Transform::Rotate(3)],
        vec![Transform::Mirror(0)],
        vec![Transform::Mirror(1)],
    ];
    let mut seen = std::collections::HashSet::new();
    for a in &all {
        for b in &all {
            let ts: Vec<Transform> = a.iter().chain(b.iter()).copied().collect();
            let want = ts.iter().fold(sq.clone(), |s, &t| transform(&s, n, t));
            let o = orientation(&ts);
            assert_eq!(o.apply_square(sq.clone(), n, 1), want, "{ts:?} -> {o:?}");
            seen.insert(o as u8);
        }
    }
    assert_eq!(seen.len(), 8, "every orientation is reachable");
    // The iPhone's portrait photo: irot 3 (Exif 6).
    assert_eq!(orientation(&[Transform::Rotate(3)]), Orientation::Rotate90);
    assert_eq!(orientation(&[Transform::Rotate(1)]), Orientation::Rotate270);
    assert_eq!(orientation(&[Transform::Mirror(0)]), Orientation::FlipVertical);
}

// ---------------------------------------------------------------- scale, memory, work

#[test]
fn the_scale_leaves_twice_the_avatar_and_respects_tiles() {
    assert_eq!(scale_shift(3024, 256, None), 2); // 756 ≥ 512, 378 < 512
    assert_eq!(scale_shift(4096, 256, None), 3);
    assert_eq!(scale_shift(60000, 256, None), 3); // never past 1/8
    assert_eq!(scale_shift(1023, 256, None), 0);
    assert_eq!(scale_shift(1024, 256, None), 1);
    assert_eq!(scale_shift(100, 256, None), 0);
    // A grid of 512² tiles allows 1/8; of 500² only 1/4; of odd tiles 1/1.
    let g = |t| Some(Grid { rows: 2, cols: 2, tile_w: t, tile_h: t });
    assert_eq!(scale_shift(8000, 256, g(512)), 3);
    assert_eq!(scale_shift(8000, 256, g(500)), 2);
    assert_eq!(scale_shift(8000, 256, g(333)), 0);
}

#[test]
fn the_decoder_may_find_a_tile_larger_than_the_image() {
    let one = read(&Spec { grid: Some((1, 1, 360, 240)), ..Spec::heic(360, 239) }.build(), PhoneKind::Heic).unwrap();
    assert_eq!(max_pixels(&one), 360 * 240);
    assert_eq!(max_pixels(&read(&Spec::avif(300, 200).build(), PhoneKind::Avif).unwrap()), 60_000);
}

#[test]
fn output_blocks_are_aligned_to_the_full_image() {
    assert_eq!(output_blocks(0, 0, 4032, 3024, 2), (0, 0, 1008, 756));
    // A crop starting mid-block takes the block it starts in.
    assert_eq!(output_blocks(3, 5, 10, 10, 2), (0, 1, 4, 3));
    assert_eq!(output_blocks(7, 0, 1, 1, 3), (0, 0, 1, 1));
    assert_eq!(output_blocks(1151, 863, 1, 1, 0), (1151, 863, 1, 1));
}

#[test]
fn estimates_grow_with_the_picture_and_bound_the_measured_peaks() {
    let h = |s: Spec, kind| read(&s.build(), kind).unwrap();
    let avif12 = h(Spec::avif(4032, 3024), PhoneKind::Avif);
    // Measured peaks of the AVIF module's heap (scaled output, 1/4):
    // 12 MP 8-bit 25.3 MB of decoder besides the output.
    let est = decoder_bytes(&avif12);
    assert!((25_300_000 * 11 / 10..=25_300_000 * 16 / 10).contains(&est), "{est}");
    let heic_single = h(Spec::heic(4032, 3024), PhoneKind::Heic);
    // 12 MP single HEVC picture: 49.9 MB measured.
    let est = decoder_bytes(&heic_single);
    assert!(est >= 49_900_000 * 11 / 10, "{est}");
    // A grid of 512² tiles needs one tile's decoder, whatever its size.
    let grid = h(Spec { grid: Some((6, 8, 512, 512)), ..Spec::heic(4032, 3024) }, PhoneKind::Heic);
    assert!(decoder_bytes(&grid) < 8 << 20);
    let grid48 = h(Spec { grid: Some((12, 16, 512, 512)), ..Spec::heic(8064, 6048) }, PhoneKind::Heic);
    assert!(decoder_bytes(&grid48) < 8 << 20);
}

#[test]
fn work_counts_the_tiles_a_crop_touches() {
    let grid = read(&Spec { grid: Some((6, 8, 512, 512)), ..Spec::heic(4032, 3024) }.build(), PhoneKind::Heic).unwrap();
    let tile = 512 * 512;
    assert_eq!(decoded(&grid, 0, 0, 4032, 3024), (48 * tile, 48));
    assert_eq!(decoded(&grid, 0, 0, 512, 512), (tile, 1));
    assert_eq!(decoded(&grid, 500, 500, 24, 24), (4 * tile, 4));
    assert_eq!(decoded(&grid, 511, 0, 1, 1), (tile, 1));
    let avif = read(&Spec { alpha: true, ..Spec::avif(1000, 1000) }.build(), PhoneKind::Avif).unwrap();
    assert_eq!(decoded(&avif, 0, 0, 10, 10), (2_000_000, 2));
    assert_eq!(
        work_units(&avif, 2_000_000, 2, 100),
        2_000_000 * rate::AVIF_8BIT + 2 * rate::PICTURE + 100 * rate::CONVERT
    );
}

// ---------------------------------------------------------------- colour

#[test]
fn colour_prefers_the_icc_and_builds_a_profile_for_wide_primaries() {
    let file = Spec { props: vec![prof(b"THE PROFILE")], ..Spec::avif(10, 10) }.build();
    let h = read(&file, PhoneKind::Avif).unwrap();
    assert!(matches!(colour(&file, &h, 12, 13), Colour::Icc(b"THE PROFILE")));
    let file = Spec::avif(10, 10).build();
    let h = read(&file, PhoneKind::Avif).unwrap();
    // sRGB/BT.709 or unspecified primaries: nothing to convert.
    assert!(matches!(colour(&file, &h, 1, 13), Colour::Srgb));
    assert!(matches!(colour(&file, &h, 2, 2), Colour::Srgb));
    // Display P3 and BT.2020: a profile moxcms reads back as RGB.
    for p in [12, 9] {
        let Colour::Cicp(profile) = colour(&file, &h, p, 13) else { panic!("a profile for primaries {p}") };
        assert_eq!(profile.color_space, moxcms::DataColorSpace::Rgb);
        // Display P3's green is outside sRGB: converted, it is no longer pure green.
        let conv = crate::imaging::colour::ColourConverter::with_profile(crate::imaging::colour::Layout::Rgb, &profile);
        let mut out = [0u8; 3];
        conv.convert(&[128, 128, 128], &mut out);
        assert!(out.iter().all(|&v| (120..=136).contains(&v)), "grey stays grey: {out:?}");
        conv.convert(&[200, 40, 30], &mut out);
        assert!(out[0] > 200 && out[1] < 40, "P3/BT.2020 red is a more saturated sRGB red: {out:?}");
    }
}

// ---------------------------------------------------------------- ABI

/// The field names of a `typedef struct { ... } name;` in the C header.
fn c_fields(header: &str, name: &str) -> Vec<String> {
    let end = header.find(&format!("}} {name};")).unwrap();
    let start = header[..end].rfind("typedef struct {").unwrap();
    let mut fields = vec![];
    for line in header[start..end].lines().skip(1) {
        let code = line.split("/*").next().unwrap().trim();
        if let Some(rest) = code.strip_prefix("uint32_t ") {
            fields.extend(rest.trim_end_matches(';').split(',').map(|f| f.trim().to_string()));
        } else if let Some(rest) = code.strip_prefix("char ") {
            fields.push(rest.split('[').next().unwrap().trim().to_string());
        }
    }
    fields
}

#[test]
fn the_structs_match_the_c_header() {
    let header = include_str!("../../../../decoders/common/phone_abi.h");
    assert_eq!(
        c_fields(header, "ph_request"),
        ["x", "y", "w", "h", "shift", "max_pixels", "expect_w", "expect_h", "want_alpha"]
    );
    assert_eq!(std::mem::size_of::<Request>(), 9 * 4);
    assert_eq!(
        c_fields(header, "ph_result"),
        [
            "pixels",
            "stride",
            "out_w",
            "out_h",
            "out_x",
            "out_y",
            "channels",
            "depth",
            "primaries",
            "transfer",
            "matrix",
            "full_range",
            "pictures",
            "decoded_pixels",
            "heap_peak",
            "error"
        ]
    );
    assert_eq!(std::mem::size_of::<RawResult>(), 15 * 4 + ffi::ERROR_LEN);
    assert!(header.contains(&format!("#define PH_ERROR_LEN {}", ffi::ERROR_LEN)));
    // js/phone.mjs writes the trap's message and the heap's peak by offset.
    let js = include_str!("../../../../js/phone.mjs");
    assert!(js.contains(&format!("RESULT_HEAP_PEAK = {}", 14 * 4)));
    assert!(js.contains(&format!("RESULT_ERROR = {}", 15 * 4)));
    assert!(js.contains(&format!("ERROR_LEN = {}", ffi::ERROR_LEN)));
    assert!(js.contains(&format!("STACK = 1 << {}", STACK.trailing_zeros())));
    assert!(js.contains(&format!("STATIC_RESERVE = 1 << {}", STATIC_RESERVE.trailing_zeros())));
}

#[test]
fn a_decoded_output_must_lie_in_its_arena() {
    let arena = ffi::Arena::new(4096).unwrap();
    let base = arena.addr() as u32;
    let ok = RawResult { pixels: base + 16, stride: 30, out_w: 10, out_h: 10, channels: 3, ..RawResult::default() };
    let d = ffi::Decoded::new(arena, ok, 10, 10).unwrap_or_else(|f| panic!("{f:?}"));
    assert_eq!(d.row(9).len(), 30);
    for bad in [
        RawResult { pixels: base + 4090, ..ok },
        RawResult { pixels: base.wrapping_sub(16), ..ok },
        RawResult { stride: 20, ..ok },
        RawResult { channels: 2, ..ok },
        RawResult { out_w: 11, ..ok },
    ] {
        let arena = ffi::Arena::new(4096).unwrap();
        let bad = RawResult { pixels: bad.pixels.wrapping_sub(base).wrapping_add(arena.addr() as u32), ..bad };
        assert!(ffi::Decoded::new(arena, bad, 10, 10).is_err(), "{bad:?}");
    }
    // Natively there is no decoder to call.
    let f = ffi::decode(PhoneKind::Avif, &[], &Request::default(), 1 << 20).err().unwrap();
    assert_eq!(f.status, ffi::Status::Unavailable);
}

// ---------------------------------------------------------------- caps

/// The largest 4:3 picture of a kind whose decode fits the default upload's
/// memory (a 256 px avatar of the centre square, body of the default cap),
/// in megapixels: with the scaled, cropped output the modules write, and,
/// for comparison, with a full-size RGB output (the first design).
fn cap_mp(spec: impl Fn(u32, u32) -> Spec, kind: PhoneKind, full_output: bool) -> f64 {
    use crate::imaging::limits::{decode_budget, PIPELINE_BUDGET};
    use crate::imaging::resize::region_bytes;
    let fits = |hgt: u32| {
        let w = hgt / 3 * 4;
        // A header the reader refuses (a grid of more than MAX_ITEMS tiles)
        // does not fit either.
        let Ok(h) = read(&spec(w, hgt).build(), kind) else { return false };
        let ch = if h.alpha.is_some() { 4 } else { 3 };
        let shift = if full_output { 0 } else { scale_shift(hgt, 256, h.grid) };
        let out = if full_output {
            u64::from(w) * u64::from(hgt) * ch
        } else {
            let (_, _, bw, bh) = output_blocks((w - hgt) / 2, 0, hgt, hgt, shift);
            u64::from(bw) * u64::from(bh) * ch
        };
        let region = region_bytes(f64::from(hgt) / f64::from(1u32 << shift), 256, ch as usize);
        arena_bytes(&h, out) <= decode_budget(PIPELINE_BUDGET, region)
    };
    let (mut lo, mut hi) = (3u32, 60_000u32);
    while hi - lo > 3 {
        let mid = (lo + hi) / 2 / 3 * 3;
        if fits(mid) {
            lo = mid
        } else {
            hi = mid
        }
    }
    f64::from(lo / 3 * 4) * f64::from(lo) / 1e6
}

#[test]
fn caps_per_kind_from_the_memory_budget() {
    let avif = |depth: u8, chroma: u8, alpha: bool| {
        move |w, h| Spec {
            config: bx(b"av1C", &[&[0x81, 0, ((depth > 8) as u8 * 0x40) | chroma, 0]]),
            alpha,
            ..Spec::avif(w, h)
        }
    };
    let heic = |depth: u8| {
        move |w, h| {
            let mut s = Spec::heic(w, h);
            s.config = {
                let mut c = vec![1u8; 23];
                c[16] = 0xfd;
                c[17] = 0xf8 | (depth - 8);
                c[22] = 0;
                bx(b"hvcC", &[&c])
            };
            s
        }
    };
    let grid = |w: u32, h: u32| Spec { grid: Some((h.div_ceil(512), w.div_ceil(512), 512, 512)), ..heic(8)(w, h) };
    let rows: Vec<(&str, f64, f64)> = vec![
        (
            "AVIF 8-bit 4:2:0",
            cap_mp(avif(8, 0x0c, false), PhoneKind::Avif, false),
            cap_mp(avif(8, 0x0c, false), PhoneKind::Avif, true),
        ),
        (
            "AVIF 8-bit 4:2:0 + alpha",
            cap_mp(avif(8, 0x0c, true), PhoneKind::Avif, false),
            cap_mp(avif(8, 0x0c, true), PhoneKind::Avif, true),
        ),
        (
            "AVIF 10-bit 4:2:0",
            cap_mp(avif(10, 0x0c, false), PhoneKind::Avif, false),
            cap_mp(avif(10, 0x0c, false), PhoneKind::Avif, true),
        ),
        (
            "AVIF 8-bit 4:4:4",
            cap_mp(avif(8, 0, false), PhoneKind::Avif, false),
            cap_mp(avif(8, 0, false), PhoneKind::Avif, true),
        ),
        (
            "AVIF 10-bit 4:4:4",
            cap_mp(avif(10, 0, false), PhoneKind::Avif, false),
            cap_mp(avif(10, 0, false), PhoneKind::Avif, true),
        ),
        ("HEIC 8-bit, one picture", cap_mp(heic(8), PhoneKind::Heic, false), cap_mp(heic(8), PhoneKind::Heic, true)),
        ("HEIC 10-bit, one picture", cap_mp(heic(10), PhoneKind::Heic, false), cap_mp(heic(10), PhoneKind::Heic, true)),
        ("HEIC grid of 512² tiles", cap_mp(grid, PhoneKind::Heic, false), cap_mp(grid, PhoneKind::Heic, true)),
    ];
    for (name, scaled, full) in &rows {
        println!("{name:<28} {scaled:>6.1} MP scaled   {full:>5.1} MP full-size RGB");
    }
    let get = |n: &str| rows.iter().find(|r| r.0 == n).unwrap();
    // The photos phones write fit: 12 MP AVIF at 10 bits, 12 MP single
    // HEVC pictures, and grids to 100 MP (MAX_PIXELS decides, and the work).
    assert!(get("AVIF 8-bit 4:2:0").1 >= 20.0);
    assert!(get("AVIF 10-bit 4:2:0").1 >= 12.0);
    assert!(get("HEIC 8-bit, one picture").1 >= 12.0);
    assert!(get("HEIC grid of 512² tiles").1 >= 100.0);
    // The scaled output is what lets them fit.
    assert!(get("AVIF 8-bit 4:2:0").2 < get("AVIF 8-bit 4:2:0").1 * 0.7);
    assert!(get("HEIC grid of 512² tiles").2 < 30.0);
}
