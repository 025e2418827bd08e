//! The HEIF container (ISO/IEC 23008-12, ISOBMFF boxes) that AVIF and HEIC
//! share, read in Rust before any C decoder sees the file: the primary
//! item, its size (`ispe`), its codec configuration (`av1C`, `hvcC`), a
//! grid's layout, colour (`colr`), orientation (`irot`, `imir`) and, for
//! AVIF, an alpha plane. Every limit is checked on these figures first
//! (`super::limits`); the decoder module then reads the same boxes (libavif,
//! `decoders/heic/glue.cc`) and must find the same size.
//!
//! Every read is bounds-checked; what does not parse is damaged, and what
//! parses but is not a still image we decode (an image sequence without a
//! primary item, a JPEG or overlay item, an unknown codec) is unsupported.

use std::ops::Range;

use crate::imaging::error::Variant;

/// The two codecs carried in HEIF files that the Worker decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhoneKind {
    /// AV1 (`av01` items): AVIF.
    Avif,
    /// HEVC (`hvc1` items): HEIC, what phones write.
    Heic,
}

/// Chroma subsampling of the coded picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chroma {
    Mono,
    Yuv420,
    Yuv422,
    Yuv444,
}

impl Chroma {
    /// Samples per pixel of the picture's planes (luma 1, plus chroma).
    pub fn samples_per_pixel_x2(self) -> u64 {
        match self {
            Chroma::Mono => 2,
            Chroma::Yuv420 => 3,
            Chroma::Yuv422 => 4,
            Chroma::Yuv444 => 6,
        }
    }
}

/// CICP colour description (ITU-T H.273) from an `nclx` box.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cicp {
    pub primaries: u16,
    pub transfer: u16,
    pub matrix: u16,
    pub full_range: bool,
}

/// A grid item's layout: `rows` × `cols` tiles of `tile_w` × `tile_h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub rows: u32,
    pub cols: u32,
    pub tile_w: u32,
    pub tile_h: u32,
}

/// What the container says about the primary image, without decoding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeifHeader {
    pub kind: PhoneKind,
    /// Stored size (before `irot`/`imir`): the primary item's `ispe`.
    pub width: u32,
    pub height: u32,
    /// Bits per sample of the coded pictures (8, 10 or 12).
    pub depth: u8,
    pub chroma: Chroma,
    /// A grid, or `None` for a single coded picture.
    pub grid: Option<Grid>,
    /// AVIF: an alpha plane (an `auxl` item) that will be decoded too,
    /// with its bit depth.
    pub alpha: Option<u8>,
    /// Quarter turns anticlockwise (`irot`), then the mirror (`imir`: 0 =
    /// top and bottom exchanged, 1 = left and right), in the order the
    /// file associates them.
    pub transforms: Vec<Transform>,
    /// The ICC profile (`colr` of type `prof` or `rICC`): where it is in the file.
    pub icc: Option<Range<usize>>,
    /// An `nclx` colour description.
    pub nclx: Option<Cicp>,
    /// Items in the file (the HEIC module's parse allocates per item).
    pub items: u32,
}

/// A transformative property of the primary item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// `irot`: quarter turns anticlockwise (0..=3).
    Rotate(u8),
    /// `imir`: 0 = mirrored about a horizontal axis (top and bottom
    /// exchanged), 1 = about a vertical axis (left and right exchanged).
    Mirror(u8),
}

/// Why a HEIF file is not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeifError {
    /// Malformed or inconsistent; the detail is for logs.
    Damaged(&'static str),
    /// Well-formed, but not a still image of a kind decoded here.
    Unsupported(Variant),
}

/// Most items a file may have (both readers allocate per item; an
/// iPhone's 48 MP photo has about 260).
pub const MAX_ITEMS: u32 = 2048;
/// Most item properties.
pub const MAX_PROPERTIES: usize = 1024;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}
fn be_n(b: &[u8], at: usize, n: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(n)?)?;
    Some(s.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
}

/// A box: its type and the range of its body in the file.
#[derive(Clone, Copy, Debug)]
struct BoxRef {
    kind: [u8; 4],
    body: (usize, usize),
}

/// The boxes in `file[start..end]`; stops at the first malformed one.
fn boxes(file: &[u8], start: usize, end: usize) -> impl Iterator<Item = BoxRef> + '_ {
    let mut pos = start;
    let end = end.min(file.len());
    std::iter::from_fn(move || {
        if end.checked_sub(pos)? < 8 {
            return None;
        }
        let size32 = be32(file, pos)?;
        let kind: [u8; 4] = file.get(pos + 4..pos + 8)?.try_into().ok()?;
        let (size, header) = match size32 {
            1 => (usize::try_from(be_n(file, pos + 8, 8)?).ok()?, 16),
            0 => (end - pos, 8),
            n => (n as usize, 8),
        };
        if size < header || size > end - pos {
            return None;
        }
        let b = BoxRef { kind, body: (pos + header, pos + size) };
        pos += size;
        Some(b)
    })
}

/// The ftyp brands of `file` (major and compatible), if it starts with an
/// `ftyp` box.
pub fn brands(file: &[u8]) -> Option<Vec<[u8; 4]>> {
    let first = boxes(file, 0, file.len()).next()?;
    if &first.kind != b"ftyp" {
        return None;
    }
    let body = file.get(first.body.0..first.body.1)?;
    let mut out = Vec::new();
    for (i, c) in body.chunks_exact(4).enumerate() {
        if i != 1 {
            // (the second word is the minor version)
            out.push(c.try_into().ok()?);
        }
        if out.len() >= 64 {
            break;
        }
    }
    Some(out)
}

/// Which kind of image a file with an `ftyp` box is: its brands say so
/// (`avif`/`avis`; `heic`, `heix`, `heim`, `heis`, `hevc`, `hevx`), or, for
/// a file that only names the generic HEIF brands (`mif1`, `msf1`), its
/// primary item's codec. `None`: not an AVIF/HEIC file (an MP4 video, a
/// QuickTime movie, a HEIF of another codec).
pub fn sniff(file: &[u8]) -> Option<PhoneKind> {
    let brands = brands(file)?;
    let has = |b: &[u8; 4]| brands.iter().any(|x| x == b);
    if has(b"avif") || has(b"avis") {
        return Some(PhoneKind::Avif);
    }
    if [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"].iter().any(|b| has(b)) {
        return Some(PhoneKind::Heic);
    }
    if has(b"mif1") || has(b"msf1") || has(b"miaf") {
        let meta = Meta::parse(file).ok()?;
        let item = meta.item(meta.primary)?;
        let codec = if &item.kind == b"grid" {
            meta.refs(b"dimg", item.id).first().and_then(|&t| meta.item(t)).map(|t| t.kind)?
        } else {
            item.kind
        };
        return match &codec {
            b"av01" => Some(PhoneKind::Avif),
            b"hvc1" => Some(PhoneKind::Heic),
            _ => None,
        };
    }
    None
}

#[derive(Clone, Debug)]
struct Item {
    id: u32,
    kind: [u8; 4],
    /// Property indices (1-based into `Meta::props`), in association order.
    props: Vec<u16>,
    /// iloc: construction method, base offset, extents (offset, length).
    method: u8,
    base: u64,
    extents: Vec<(u64, u64)>,
}

/// The `meta` box, parsed.
struct Meta<'a> {
    file: &'a [u8],
    primary: u32,
    items: Vec<Item>,
    props: Vec<BoxRef>,
    /// iref: (type, from, to list)
    refs: Vec<([u8; 4], u32, Vec<u32>)>,
    idat: Option<(usize, usize)>,
}

impl<'a> Meta<'a> {
    fn parse(file: &'a [u8]) -> Result<Meta<'a>, HeifError> {
        use HeifError::{Damaged, Unsupported};
        let mut meta = None;
        let mut moov = false;
        for b in boxes(file, 0, file.len()) {
            match &b.kind {
                b"meta" => {
                    meta = Some(b);
                    break;
                }
                b"moov" => moov = true,
                _ => {}
            }
        }
        let Some(meta) = meta else {
            return Err(if moov { Unsupported(Variant::Sequence) } else { Damaged("no meta box") });
        };
        let (ms, me) = meta.body;
        if me - ms < 4 {
            return Err(Damaged("empty meta box"));
        }
        let mut m = Meta { file, primary: 0, items: Vec::new(), props: Vec::new(), refs: Vec::new(), idat: None };
        let (mut pitm, mut iinf, mut iloc, mut iprp, mut iref) = (None, None, None, None, None);
        for b in boxes(file, ms + 4, me) {
            match &b.kind {
                b"pitm" => pitm = Some(b.body),
                b"iinf" => iinf = Some(b.body),
                b"iloc" => iloc = Some(b.body),
                b"iprp" => iprp = Some(b.body),
                b"iref" => iref = Some(b.body),
                b"idat" => m.idat = Some(b.body),
                _ => {}
            }
        }
        let (Some(pitm), Some(iinf), Some(iloc), Some(iprp)) = (pitm, iinf, iloc, iprp) else {
            return Err(Damaged("incomplete meta box"));
        };
        // pitm
        let v = *file.get(pitm.0).ok_or(Damaged("bad pitm"))?;
        m.primary = if v == 0 { be16(file, pitm.0 + 4).map(u32::from) } else { be32(file, pitm.0 + 4) }
            .ok_or(Damaged("bad pitm"))?;
        m.parse_iinf(iinf)?;
        m.parse_iloc(iloc)?;
        m.parse_iprp(iprp)?;
        if let Some(iref) = iref {
            m.parse_iref(iref)?;
        }
        Ok(m)
    }

    fn parse_iinf(&mut self, (s, e): (usize, usize)) -> Result<(), HeifError> {
        let f = self.file;
        let bad = HeifError::Damaged("bad iinf");
        let v = *f.get(s).ok_or(bad.clone())?;
        let (count, first) = if v == 0 {
            (u32::from(be16(f, s + 4).ok_or(bad.clone())?), s + 6)
        } else {
            (be32(f, s + 4).ok_or(bad.clone())?, s + 8)
        };
        if count > MAX_ITEMS {
            return Err(HeifError::Damaged("too many items"));
        }
        for b in boxes(f, first, e) {
            if &b.kind != b"infe" {
                continue;
            }
            let (bs, _) = b.body;
            let ver = *f.get(bs).ok_or(bad.clone())?;
            if ver < 2 {
                continue;
            }
            let (id, at) = if ver == 2 {
                (u32::from(be16(f, bs + 4).ok_or(bad.clone())?), bs + 6)
            } else {
                (be32(f, bs + 4).ok_or(bad.clone())?, bs + 8)
            };
            let kind: [u8; 4] = f.get(at + 2..at + 6).ok_or(bad.clone())?.try_into().map_err(|_| bad.clone())?;
            if self.items.len() as u32 >= count {
                break;
            }
            self.items.push(Item { id, kind, props: Vec::new(), method: 0, base: 0, extents: Vec::new() });
        }
        Ok(())
    }

    fn parse_iloc(&mut self, (s, e): (usize, usize)) -> Result<(), HeifError> {
        let f = &self.file[..e];
        let bad = HeifError::Damaged("bad iloc");
        let v = *f.get(s).ok_or(bad.clone())?;
        let a = *f.get(s + 4).ok_or(bad.clone())?;
        let c = *f.get(s + 5).ok_or(bad.clone())?;
        let (off_sz, len_sz, base_sz) = (usize::from(a >> 4), usize::from(a & 15), usize::from(c >> 4));
        let idx_sz = if v == 1 || v == 2 { usize::from(c & 15) } else { 0 };
        let mut p = s + 6;
        let count = if v < 2 {
            p += 2;
            u32::from(be16(f, p - 2).ok_or(bad.clone())?)
        } else {
            p += 4;
            be32(f, p - 4).ok_or(bad.clone())?
        };
        if count > MAX_ITEMS {
            return Err(HeifError::Damaged("too many items"));
        }
        for _ in 0..count {
            let id = if v < 2 {
                p += 2;
                u32::from(be16(f, p - 2).ok_or(bad.clone())?)
            } else {
                p += 4;
                be32(f, p - 4).ok_or(bad.clone())?
            };
            let method = if v == 1 || v == 2 {
                p += 2;
                (be16(f, p - 2).ok_or(bad.clone())? & 15) as u8
            } else {
                0
            };
            p += 2; // data_reference_index
            let base = be_n(f, p, base_sz).ok_or(bad.clone())?;
            p += base_sz;
            let n = be16(f, p).ok_or(bad.clone())?;
            p += 2;
            if n > 32 {
                return Err(HeifError::Damaged("too many extents"));
            }
            let mut extents = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                p += idx_sz;
                let off = be_n(f, p, off_sz).ok_or(bad.clone())?;
                p += off_sz;
                let len = be_n(f, p, len_sz).ok_or(bad.clone())?;
                p += len_sz;
                extents.push((off, len));
            }
            if let Some(it) = self.items.iter_mut().find(|i| i.id == id) {
                (it.method, it.base, it.extents) = (method, base, extents);
            }
        }
        Ok(())
    }

    fn parse_iprp(&mut self, (s, e): (usize, usize)) -> Result<(), HeifError> {
        let f = self.file;
        let (mut ipco, mut ipma) = (None, None);
        for b in boxes(f, s, e) {
            match &b.kind {
                b"ipco" => ipco = Some(b.body),
                b"ipma" if ipma.is_none() => ipma = Some(b.body),
                _ => {}
            }
        }
        let (Some(ipco), Some(ipma)) = (ipco, ipma) else { return Err(HeifError::Damaged("no item properties")) };
        for b in boxes(f, ipco.0, ipco.1) {
            if self.props.len() == MAX_PROPERTIES {
                return Err(HeifError::Damaged("too many properties"));
            }
            self.props.push(b);
        }
        let bad = HeifError::Damaged("bad ipma");
        let f = &f[..ipma.1];
        let v = *f.get(ipma.0).ok_or(bad.clone())?;
        let flags = be32(f, ipma.0).ok_or(bad.clone())? & 0xff_ffff;
        let count = be32(f, ipma.0 + 4).ok_or(bad.clone())?;
        if count > MAX_ITEMS {
            return Err(HeifError::Damaged("too many items"));
        }
        let mut p = ipma.0 + 8;
        for _ in 0..count {
            let id = if v < 1 {
                p += 2;
                u32::from(be16(f, p - 2).ok_or(bad.clone())?)
            } else {
                p += 4;
                be32(f, p - 4).ok_or(bad.clone())?
            };
            let n = *f.get(p).ok_or(bad.clone())?;
            p += 1;
            let mut props = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                let idx = if flags & 1 != 0 {
                    p += 2;
                    be16(f, p - 2).ok_or(bad.clone())? & 0x7fff
                } else {
                    p += 1;
                    u16::from(*f.get(p - 1).ok_or(bad.clone())? & 0x7f)
                };
                props.push(idx);
            }
            if let Some(it) = self.items.iter_mut().find(|i| i.id == id) {
                if it.props.is_empty() {
                    it.props = props;
                }
            }
        }
        Ok(())
    }

    fn parse_iref(&mut self, (s, e): (usize, usize)) -> Result<(), HeifError> {
        let f = &self.file[..e];
        let bad = HeifError::Damaged("bad iref");
        let v = *f.get(s).ok_or(bad.clone())?;
        let w = if v == 0 { 2 } else { 4 };
        for b in boxes(f, s + 4, e) {
            let mut p = b.body.0;
            let from = be_n(f, p, w).ok_or(bad.clone())? as u32;
            p += w;
            let n = be16(f, p).ok_or(bad.clone())?;
            p += 2;
            if u32::from(n) > MAX_ITEMS {
                return Err(bad);
            }
            let mut to = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                to.push(be_n(f, p, w).ok_or(bad.clone())? as u32);
                p += w;
            }
            if p > b.body.1 {
                return Err(bad);
            }
            self.refs.push((b.kind, from, to));
        }
        Ok(())
    }

    fn item(&self, id: u32) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The items `from` references with `kind` (e.g. a grid's tiles).
    fn refs(&self, kind: &[u8; 4], from: u32) -> Vec<u32> {
        self.refs.iter().find(|(k, f, _)| k == kind && *f == from).map(|(_, _, to)| to.clone()).unwrap_or_default()
    }

    /// The properties of `item` of type `kind`, in association order.
    fn props<'s>(&'s self, item: &'s Item, kind: &'s [u8; 4]) -> impl Iterator<Item = &'s [u8]> + 's {
        item.props.iter().filter_map(move |&i| {
            let b = self.props.get(usize::from(i).checked_sub(1)?)?;
            (&b.kind == kind).then(|| &self.file[b.body.0..b.body.1])
        })
    }

    fn prop<'s>(&'s self, item: &'s Item, kind: &'s [u8; 4]) -> Option<&'s [u8]> {
        self.props(item, kind).next()
    }

    /// An item's size from its `ispe`.
    fn ispe(&self, item: &Item) -> Option<(u32, u32)> {
        let p = self.prop(item, b"ispe")?;
        Some((be32(p, 4)?, be32(p, 8)?))
    }

    /// The bytes of a small item (a grid's description), up to `cap`.
    fn small_data(&self, item: &Item, cap: u64) -> Option<Vec<u8>> {
        let src: &[u8] = match item.method {
            0 => self.file,
            1 => {
                let (s, e) = self.idat?;
                &self.file[s..e]
            }
            _ => return None,
        };
        let mut out = Vec::new();
        for &(off, len) in &item.extents {
            let start = item.base.checked_add(off)?;
            let len = if len == 0 && item.extents.len() == 1 { (src.len() as u64).checked_sub(start)? } else { len };
            if out.len() as u64 + len > cap {
                return None;
            }
            let s = usize::try_from(start).ok()?;
            out.extend_from_slice(src.get(s..s.checked_add(usize::try_from(len).ok()?)?)?);
        }
        Some(out)
    }
}

/// Depth and chroma from an `av1C` box (AV1-ISOBMFF 2.3).
fn av1c(p: &[u8]) -> Option<(u8, Chroma)> {
    let b = *p.get(2)?;
    let (high, twelve, mono, sx, sy) = (b & 0x40 != 0, b & 0x20 != 0, b & 0x10 != 0, b & 0x08 != 0, b & 0x04 != 0);
    let depth = if high && twelve {
        12
    } else if high {
        10
    } else {
        8
    };
    let chroma = match (mono, sx, sy) {
        (true, ..) => Chroma::Mono,
        (false, true, true) => Chroma::Yuv420,
        (false, true, false) => Chroma::Yuv422,
        _ => Chroma::Yuv444,
    };
    Some((depth, chroma))
}

/// Depth and chroma from an `hvcC` box (ISO/IEC 14496-15 8.3.3).
fn hvcc(p: &[u8]) -> Option<(u8, Chroma)> {
    if p.len() < 23 {
        return None;
    }
    let chroma = match p[16] & 3 {
        0 => Chroma::Mono,
        1 => Chroma::Yuv420,
        2 => Chroma::Yuv422,
        _ => Chroma::Yuv444,
    };
    Some(((p[17] & 7) + 8, chroma))
}

const ALPHA_URNS: [&[u8]; 2] = [b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", b"urn:mpeg:hevc:2015:auxid:1"];

/// Reads the container of an AVIF or HEIC file (`kind` from [`sniff`]).
pub fn read(file: &[u8], kind: PhoneKind) -> Result<HeifHeader, HeifError> {
    use HeifError::{Damaged, Unsupported};
    let m = Meta::parse(file)?;
    let prim = m.item(m.primary).ok_or(Damaged("no primary item"))?;
    let codec: &[u8; 4] = match kind {
        PhoneKind::Avif => b"av01",
        PhoneKind::Heic => b"hvc1",
    };
    let (width, height) = m.ispe(prim).ok_or(Damaged("primary item has no ispe"))?;
    let (coded, grid) = if &prim.kind == b"grid" {
        let d = m.small_data(prim, 64).ok_or(Damaged("bad grid data"))?;
        let (flags, rows, cols) = (*d.get(1).ok_or(Damaged("bad grid data"))?, d.get(2), d.get(3));
        let (rows, cols) = (
            u32::from(*rows.ok_or(Damaged("bad grid data"))?) + 1,
            u32::from(*cols.ok_or(Damaged("bad grid data"))?) + 1,
        );
        let (ow, oh) = if flags & 1 != 0 {
            (be32(&d, 4), be32(&d, 8))
        } else {
            (be16(&d, 4).map(u32::from), be16(&d, 6).map(u32::from))
        };
        if (ow, oh) != (Some(width), Some(height)) {
            return Err(Damaged("grid size disagrees with ispe"));
        }
        let tiles = m.refs(b"dimg", prim.id);
        if tiles.len() as u32 != rows * cols {
            return Err(Damaged("grid tiles missing"));
        }
        let mut first = None;
        for &t in &tiles {
            let t = m.item(t).ok_or(Damaged("grid tile missing"))?;
            if &t.kind != codec {
                return Err(Unsupported(Variant::UnusualEncoding));
            }
            let size = m.ispe(t).ok_or(Damaged("tile has no ispe"))?;
            match first {
                None => first = Some((t, size)),
                Some((_, s)) if s != size => return Err(Damaged("tiles of different sizes")),
                _ => {}
            }
        }
        let (t0, (tw, th)) = first.ok_or(Damaged("empty grid"))?;
        let covers = |t: u32, n: u32, full: u32| {
            t > 0 && u64::from(t) * u64::from(n) >= u64::from(full) && u64::from(t) * u64::from(n - 1) < u64::from(full)
        };
        if !covers(tw, cols, width) || !covers(th, rows, height) {
            return Err(Damaged("grid tiles do not match the image size"));
        }
        (t0, Some(Grid { rows, cols, tile_w: tw, tile_h: th }))
    } else if &prim.kind == codec {
        (prim, None)
    } else {
        // A JPEG, overlay (iovl) or derived (iden) item, or the other codec.
        return Err(Unsupported(Variant::UnusualEncoding));
    };
    let (depth, chroma) = match kind {
        PhoneKind::Avif => m.prop(coded, b"av1C").and_then(av1c),
        PhoneKind::Heic => m.prop(coded, b"hvcC").and_then(hvcc),
    }
    .ok_or(Damaged("no codec configuration"))?;
    if !(8..=12).contains(&depth) {
        return Err(Unsupported(Variant::WideSamples));
    }
    let mut transforms = Vec::new();
    for &i in &prim.props {
        let Some(b) = usize::from(i).checked_sub(1).and_then(|i| m.props.get(i)) else { continue };
        let body = &file[b.body.0..b.body.1];
        match &b.kind {
            b"irot" => transforms.push(Transform::Rotate(body.first().copied().unwrap_or(0) & 3)),
            b"imir" => transforms.push(Transform::Mirror(body.first().copied().unwrap_or(0) & 1)),
            _ => {}
        }
    }
    let (mut icc, mut nclx) = (None, None);
    for i in prim.props.iter().filter_map(|&i| m.props.get(usize::from(i).checked_sub(1)?)) {
        if &i.kind != b"colr" || i.body.1 - i.body.0 < 4 {
            continue;
        }
        let (s, e) = i.body;
        match &file[s..s + 4] {
            b"nclx" if nclx.is_none() && e - s >= 11 => {
                nclx = Some(Cicp {
                    primaries: be16(file, s + 4).unwrap_or(2),
                    transfer: be16(file, s + 6).unwrap_or(2),
                    matrix: be16(file, s + 8).unwrap_or(2),
                    full_range: file[s + 10] & 0x80 != 0,
                })
            }
            b"prof" | b"rICC" if icc.is_none() => icc = Some(s + 4..e),
            _ => {}
        }
    }
    // An AVIF alpha plane: an auxl item whose auxC names alpha.
    let alpha = if kind == PhoneKind::Avif {
        m.refs
            .iter()
            .filter(|(k, _, to)| k == b"auxl" && to.contains(&prim.id))
            .filter_map(|(_, from, _)| m.item(*from))
            .find(|it| m.prop(it, b"auxC").is_some_and(|c| ALPHA_URNS.iter().any(|u| c.get(4..4 + u.len()) == Some(u))))
            .map(|it| {
                let coded = if &it.kind == b"grid" {
                    m.refs(b"dimg", it.id).first().and_then(|&t| m.item(t)).unwrap_or(it)
                } else {
                    it
                };
                m.prop(coded, b"av1C").and_then(av1c).map_or(depth, |(d, _)| d)
            })
    } else {
        None
    };
    Ok(HeifHeader {
        kind,
        width,
        height,
        depth,
        chroma,
        grid,
        alpha,
        transforms,
        icc,
        nclx,
        items: m.items.len() as u32,
    })
}
