//! Sequential (baseline) JPEG at 1/8 scale from the DC coefficients alone.
//!
//! At 1/8 scale every 8×8 block becomes one pixel: its DC coefficient. The
//! AC coefficients must still be walked (Huffman codes have no index), but
//! not stored, dequantised or transformed. This is the whole cost of a phone
//! photo's decode, so this path does only that: a table-driven Huffman
//! reader over the in-memory file, one MCU row of DC values at a time,
//! rows handed to the collector as soon as they exist (memory grows with
//! the width, and decoding stops after the crop square's last row).
//!
//! It takes only the common case: 8-bit Huffman sequential (SOF0/SOF1), one
//! scan with all components, grayscale or YCbCr (no Adobe APP14 transform,
//! no RGB component ids), sampling factors 1 or 2, restart markers allowed.
//! Anything else, and any anomaly in the entropy data, returns `None` and
//! the caller uses `jpeg-decoder` instead, which then decides what is an
//! error. Pixel values match `jpeg-decoder`'s 1/8 output: DC × quant / 8
//! + 128, chroma replicated, JFIF YCbCr → RGB.

use super::Plan;
use crate::imaging::colour::Layout;
use crate::imaging::limits::MAX_ICC_BYTES;
use crate::imaging::resize::{Collector, Region};

/// One component of the frame and its scan tables.
#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc_table: usize,
    ac_table: usize,
}

/// Canonical Huffman table with a 9-bit lookahead.
struct Huffman {
    /// For codes of ≤ LOOKAHEAD bits: (length << 8 | symbol), 0 = longer.
    fast: [u16; 1 << LOOKAHEAD],
    /// maxcode[l]: largest code of length l (left-aligned compare), per F.16.
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    symbols: Vec<u8>,
}

const LOOKAHEAD: u32 = 9;

impl Huffman {
    fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Huffman> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total == 0 || total > 256 || symbols.len() != total {
            return None;
        }
        let mut t = Huffman {
            fast: [0; 1 << LOOKAHEAD],
            maxcode: [-1; 18],
            valptr: [0; 17],
            mincode: [0; 17],
            symbols: symbols.to_vec(),
        };
        let mut code: i32 = 0;
        let mut k: i32 = 0;
        for len in 1..=16usize {
            let n = i32::from(counts[len - 1]);
            t.valptr[len] = k;
            t.mincode[len] = code;
            if n > 0 {
                for i in 0..n {
                    let c = code + i;
                    if len as u32 <= LOOKAHEAD {
                        let shift = LOOKAHEAD - len as u32;
                        let sym = u16::from(*symbols.get((k + i) as usize)?);
                        for fill in 0..(1usize << shift) {
                            let idx = ((c as usize) << shift) | fill;
                            *t.fast.get_mut(idx)? = ((len as u16) << 8) | sym;
                        }
                    }
                }
                code += n;
                k += n;
                t.maxcode[len] = code - 1;
            }
            // A code space overflow means a table no decoder can use.
            if code > (1 << len) {
                return None;
            }
            code <<= 1;
        }
        t.maxcode[17] = i32::MAX;
        Some(t)
    }
}

/// Big-endian bit reader over entropy-coded data: skips stuffed zero bytes,
/// stops at a marker and then feeds zero bits (as libjpeg does).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    at_marker: bool,
    /// The data ended without a marker: a truncated file.
    eof: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits { data, pos, acc: 0, n: 0, at_marker: false, eof: false }
    }

    #[inline(always)]
    fn refill(&mut self) {
        while self.n <= 56 {
            let mut byte = 0u8;
            if !self.at_marker {
                match self.data.get(self.pos) {
                    Some(&0xFF) => {
                        if self.data.get(self.pos + 1) == Some(&0) {
                            byte = 0xFF;
                            self.pos += 2;
                        } else {
                            self.at_marker = true;
                        }
                    }
                    Some(&b) => {
                        byte = b;
                        self.pos += 1;
                    }
                    None => {
                        self.at_marker = true;
                        self.eof = true;
                    }
                }
            }
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
    }

    #[inline(always)]
    fn peek(&self, k: u32) -> u32 {
        (self.acc >> (64 - k)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, k: u32) {
        self.acc <<= k;
        self.n -= k;
    }

    /// Next Huffman symbol; `None` for a code not in the table.
    #[inline(always)]
    fn symbol(&mut self, t: &Huffman) -> Option<u8> {
        if self.n < 32 {
            self.refill();
        }
        let e = t.fast[self.peek(LOOKAHEAD) as usize];
        if e != 0 {
            self.consume(u32::from(e >> 8));
            return Some(e as u8);
        }
        // Longer code: compare against maxcode per length (F.16).
        let mut len = LOOKAHEAD as usize + 1;
        let mut code = self.peek(len as u32) as i32;
        while len <= 16 && code > t.maxcode[len] {
            len += 1;
            code = self.peek(len as u32) as i32;
        }
        if len > 16 {
            return None;
        }
        self.consume(len as u32);
        let idx = t.valptr[len] + code - t.mincode[len];
        t.symbols.get(usize::try_from(idx).ok()?).copied()
    }

    /// `s` raw bits as the signed value they encode (F.12 EXTEND).
    #[inline(always)]
    fn extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        if self.n < 32 {
            self.refill();
        }
        let v = self.peek(s) as i32;
        self.consume(s);
        if v < (1 << (s - 1)) {
            v - (1 << s) + 1
        } else {
            v
        }
    }

    #[inline(always)]
    fn skip(&mut self, s: u32) {
        if s == 0 {
            return;
        }
        if self.n < 32 {
            self.refill();
        }
        self.consume(s);
    }

    /// At a restart interval's end: drop the padding bits and step over the
    /// RSTn marker (which must be the expected one).
    fn restart(&mut self, expected: u8) -> Option<()> {
        self.acc = 0;
        self.n = 0;
        self.at_marker = false;
        // Fill bytes (0xFF) may precede the marker.
        while self.data.get(self.pos) == Some(&0xFF) && self.data.get(self.pos + 1) == Some(&0xFF) {
            self.pos += 1;
        }
        if self.data.get(self.pos) == Some(&0xFF) && self.data.get(self.pos + 1) == Some(&(0xD0 + expected)) {
            self.pos += 2;
            Some(())
        } else {
            None
        }
    }
}

/// Everything read from the markers before the scan.
struct Setup {
    width: usize,
    height: usize,
    comps: Vec<Component>,
    quant_dc: [i32; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: usize,
    scan_start: usize,
    icc: Vec<(u8, Vec<u8>)>,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

/// Reads the markers up to the first SOS; `None` if this path does not apply.
fn setup(b: &[u8]) -> Option<Setup> {
    if b.get(0..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut s = Setup {
        width: 0,
        height: 0,
        comps: Vec::new(),
        quant_dc: [0; 4],
        dc: [None, None, None, None],
        ac: [None, None, None, None],
        restart_interval: 0,
        scan_start: 0,
        icc: Vec::new(),
    };
    let mut quant_seen = [false; 4];
    let mut pos = 2;
    loop {
        // Markers may be preceded by fill bytes.
        while *b.get(pos)? == 0xFF && *b.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        if *b.get(pos)? != 0xFF {
            return None;
        }
        let marker = *b.get(pos + 1)?;
        let len = be16(b, pos + 2)?;
        if len < 2 {
            return None;
        }
        let seg = b.get(pos + 4..pos + 2 + len)?;
        match marker {
            // SOF0/SOF1: Huffman sequential. Any other SOF: not this path.
            0xC0 | 0xC1 => {
                if *seg.first()? != 8 || !s.comps.is_empty() {
                    return None;
                }
                s.height = be16(seg, 1)?;
                s.width = be16(seg, 3)?;
                let nc = usize::from(*seg.get(5)?);
                if s.width == 0 || s.height == 0 || !(nc == 1 || nc == 3) {
                    return None;
                }
                for i in 0..nc {
                    let c = seg.get(6 + i * 3..9 + i * 3)?;
                    let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
                    if !(1..=2).contains(&h) || !(1..=2).contains(&v) || c[2] > 3 {
                        return None;
                    }
                    s.comps.push(Component { id: c[0], h, v, quant: usize::from(c[2]), ..Default::default() });
                }
                // RGB-coded JPEGs (ids 'R','G','B') need no YCbCr conversion.
                if nc == 3 && s.comps.iter().map(|c| c.id).eq([b'R', b'G', b'B']) {
                    return None;
                }
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            // DHT
            0xC4 => {
                let mut p = 0;
                while p < seg.len() {
                    let tc_th = *seg.get(p)?;
                    let (class, id) = (tc_th >> 4, usize::from(tc_th & 15));
                    let counts: [u8; 16] = seg.get(p + 1..p + 17)?.try_into().ok()?;
                    let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    let symbols = seg.get(p + 17..p + 17 + total)?;
                    let table = Huffman::new(&counts, symbols)?;
                    match (class, id) {
                        (0, 0..=3) => s.dc[id] = Some(table),
                        (1, 0..=3) => s.ac[id] = Some(table),
                        _ => return None,
                    }
                    p += 17 + total;
                }
            }
            // DQT: only each table's DC entry matters at 1/8 scale.
            0xDB => {
                let mut p = 0;
                while p < seg.len() {
                    let pq_tq = *seg.get(p)?;
                    let id = usize::from(pq_tq & 15);
                    if id > 3 {
                        return None;
                    }
                    let (q0, step) = if pq_tq >> 4 == 0 {
                        (i32::from(*seg.get(p + 1)?), 65)
                    } else {
                        (be16(seg, p + 1)? as i32, 129)
                    };
                    seg.get(p + step - 1)?;
                    s.quant_dc[id] = q0;
                    quant_seen[id] = true;
                    p += step;
                }
            }
            // DRI
            0xDD => s.restart_interval = be16(seg, 0)?,
            // APP2 ICC_PROFILE chunks.
            0xE2 => {
                if let (Some(b"ICC_PROFILE\0"), Some(&seq), Some(data)) = (seg.get(..12), seg.get(12), seg.get(14..)) {
                    s.icc.push((seq, data.to_vec()));
                }
            }
            // Adobe APP14 decides the colour transform itself: not this path.
            0xEE if seg.starts_with(b"Adobe") => return None,
            // SOS
            0xDA => {
                if s.comps.is_empty() {
                    return None;
                }
                let ns = usize::from(*seg.first()?);
                if ns != s.comps.len() {
                    return None;
                }
                for i in 0..ns {
                    let id = *seg.get(1 + i * 2)?;
                    let tables = *seg.get(2 + i * 2)?;
                    // Components in frame order, each once.
                    let c = s.comps.get_mut(i)?;
                    if c.id != id {
                        return None;
                    }
                    c.dc_table = usize::from(tables >> 4);
                    c.ac_table = usize::from(tables & 15);
                    if c.dc_table > 3 || c.ac_table > 3 {
                        return None;
                    }
                }
                // Ss=0, Se=63, Ah=Al=0: a sequential scan.
                if seg.get(1 + ns * 2..4 + ns * 2)? != [0, 63, 0] {
                    return None;
                }
                for c in &s.comps {
                    if !quant_seen[c.quant] || s.dc[c.dc_table].is_none() || s.ac[c.ac_table].is_none() {
                        return None;
                    }
                }
                s.scan_start = pos + 2 + len;
                return Some(s);
            }
            // Standalone markers have no length; none belong before SOS.
            0xD0..=0xD9 | 0x01 => return None,
            _ => {}
        }
        pos += 2 + len;
    }
}

/// The ICC profile from its APP2 chunks in sequence order, if complete and
/// not over [`MAX_ICC_BYTES`].
fn icc_profile(mut chunks: Vec<(u8, Vec<u8>)>) -> Option<Vec<u8>> {
    if chunks.is_empty() {
        return None;
    }
    chunks.sort_by_key(|c| c.0);
    let total: usize = chunks.iter().map(|c| c.1.len()).sum();
    if total > MAX_ICC_BYTES {
        return None;
    }
    Some(chunks.into_iter().flat_map(|c| c.1).collect())
}

/// Decodes at 1/8 scale into the collector made by `plan`. `None`: this
/// file is not for this path (or its entropy data is odd or truncated); use
/// the general decoder, which then reports the error. Once the collector
/// has its rows only the entropy decoding goes on, so a damaged or
/// truncated file is refused as `jpeg-decoder` would refuse it.
pub fn decode(bytes: &[u8], plan: &Plan) -> Option<Region> {
    let collector = run(bytes, (plan.width, plan.height), |w, h, layout, icc| plan.collector(w, h, layout, icc))?;
    collector.into_region()
}

/// Where the decoded rows go: the resize collector, or a test's buffer.
trait Rows {
    fn push_row(&mut self, row: &[u8]);
    fn done(&self) -> bool;
}

impl Rows for Collector {
    fn push_row(&mut self, row: &[u8]) {
        Collector::push_row(self, row);
    }
    fn done(&self) -> bool {
        Collector::done(self)
    }
}

/// The decode proper: `make` gets the 1/8-scale size, layout and ICC
/// profile and returns the sink for the rows; `None` as for [`decode`].
fn run<S: Rows>(bytes: &[u8], size: (u32, u32), make: impl FnOnce(u32, u32, Layout, Option<&[u8]>) -> S) -> Option<S> {
    let s = setup(bytes)?;
    if (s.width as u32, s.height as u32) != size {
        return None;
    }
    let hmax = s.comps.iter().map(|c| c.h).max()?;
    let vmax = s.comps.iter().map(|c| c.v).max()?;
    // A single component is coded block by block, whatever its factors.
    let (hmax, vmax, comps) = if s.comps.len() == 1 {
        let mut c = s.comps[0];
        c.h = 1;
        c.v = 1;
        (1, 1, vec![c])
    } else {
        (hmax, vmax, s.comps.clone())
    };
    let mcus_x = s.width.div_ceil(8 * hmax);
    let mcus_y = s.height.div_ceil(8 * vmax);
    let (out_w, out_h) = (s.width.div_ceil(8), s.height.div_ceil(8));
    let layout = if comps.len() == 1 { Layout::Gray } else { Layout::Rgb };
    let icc = icc_profile(s.icc);
    let mut collector = make(out_w as u32, out_h as u32, layout, icc.as_deref());

    // One MCU row of DC pixels per component: (mcus_x·h) × v values.
    let mut planes: Vec<Vec<u8>> = comps.iter().map(|c| vec![0u8; mcus_x * c.h * c.v]).collect();
    let mut row = vec![0u8; out_w * layout.channels()];
    let mut pred = [0i32; 3];
    let mut bits = Bits::new(bytes, s.scan_start);
    let mut left = s.restart_interval;
    let mut next_rst = 0u8;

    for mcu_y in 0..mcus_y {
        for mcu_x in 0..mcus_x {
            if s.restart_interval > 0 {
                if left == 0 {
                    bits.restart(next_rst)?;
                    next_rst = (next_rst + 1) & 7;
                    pred = [0; 3];
                    left = s.restart_interval;
                }
                left -= 1;
            }
            for (ci, c) in comps.iter().enumerate() {
                let dc_t = s.dc[c.dc_table].as_ref()?;
                let ac_t = s.ac[c.ac_table].as_ref()?;
                let q = s.quant_dc[c.quant];
                let plane = planes.get_mut(ci)?;
                let stride = mcus_x * c.h;
                for by in 0..c.v {
                    for bx in 0..c.h {
                        let t = u32::from(bits.symbol(dc_t)?);
                        if t > 11 {
                            return None;
                        }
                        pred[ci] += bits.extend(t);
                        // The AC coefficients: read past them.
                        let mut k = 1;
                        while k < 64 {
                            let rs = bits.symbol(ac_t)?;
                            let (r, sz) = (usize::from(rs >> 4), u32::from(rs & 15));
                            if sz == 0 {
                                if r != 15 {
                                    break;
                                }
                                k += 16;
                                continue;
                            }
                            k += r;
                            bits.skip(sz);
                            k += 1;
                        }
                        if k > 64 {
                            return None;
                        }
                        // jpeg-decoder's 1×1 IDCT: (DC·q + 1024) / 8, clamped.
                        let v = ((pred[ci].wrapping_mul(q)).wrapping_add(1024) / 8).clamp(0, 255) as u8;
                        *plane.get_mut(by * stride + mcu_x * c.h + bx)? = v;
                    }
                }
            }
        }
        // The MCU row's output rows (vmax of them at 1/8 scale).
        for sub in 0..vmax {
            if collector.done() {
                break;
            }
            let y = mcu_y * vmax + sub;
            if y >= out_h {
                break;
            }
            if layout == Layout::Gray {
                let src = planes[0].get(..out_w)?;
                row.copy_from_slice(src);
            } else {
                ycc_row(&planes, &comps, hmax, vmax, sub, mcus_x, &mut row)?;
            }
            collector.push_row(&row);
        }
    }
    if bits.eof {
        return None;
    }
    Some(collector)
}

/// One output row from the MCU row's DC planes: chroma replicated to the
/// luma grid, JFIF YCbCr → RGB in 16-bit fixed point.
fn ycc_row(planes: &[Vec<u8>], comps: &[Component], hmax: usize, vmax: usize, sub: usize, mcus_x: usize, row: &mut [u8]) -> Option<()> {
    let line = |ci: usize| -> Option<(&[u8], usize)> {
        let c = comps.get(ci)?;
        let y = sub * c.v / vmax;
        let stride = mcus_x * c.h;
        Some((planes.get(ci)?.get(y * stride..(y + 1) * stride)?, hmax / c.h))
    };
    let (yl, ys) = line(0)?;
    let (cbl, cbs) = line(1)?;
    let (crl, crs) = line(2)?;
    for (x, px) in row.chunks_exact_mut(3).enumerate() {
        let y = i32::from(*yl.get(x / ys)?) << 16;
        let cb = i32::from(*cbl.get(x / cbs)?) - 128;
        let cr = i32::from(*crl.get(x / crs)?) - 128;
        const HALF: i32 = 1 << 15;
        let r = (y + 91_881 * cr + HALF) >> 16;
        let g = (y - 22_554 * cb - 46_802 * cr + HALF) >> 16;
        let b = (y + 116_130 * cb + HALF) >> 16;
        px[0] = r.clamp(0, 255) as u8;
        px[1] = g.clamp(0, 255) as u8;
        px[2] = b.clamp(0, 255) as u8;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Rows collected into one buffer.
    struct Buffer {
        w: u32,
        h: u32,
        ch: usize,
        px: Vec<u8>,
    }

    impl Rows for Buffer {
        fn push_row(&mut self, row: &[u8]) {
            self.px.extend_from_slice(row);
        }
        fn done(&self) -> bool {
            false
        }
    }

    /// The header's size ((0, 0) when jpeg-decoder cannot read it).
    fn dims(bytes: &[u8]) -> (u32, u32) {
        let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        match (d.read_info(), d.info()) {
            (Ok(()), Some(i)) => (u32::from(i.width), u32::from(i.height)),
            _ => (0, 0),
        }
    }

    fn ours(bytes: &[u8]) -> Option<Buffer> {
        run(bytes, dims(bytes), |w, h, layout, _| Buffer { w, h, ch: layout.channels(), px: Vec::new() })
    }

    /// jpeg-decoder at 1/8 scale: (w, h, channels, pixels).
    fn reference(bytes: &[u8]) -> (u32, u32, usize, Vec<u8>) {
        let (w, h) = dims(bytes);
        let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        d.scale(w.div_ceil(8) as u16, h.div_ceil(8) as u16).unwrap();
        let px = d.decode().unwrap();
        let i = d.info().unwrap();
        let ch = px.len() / (usize::from(i.width) * usize::from(i.height));
        (u32::from(i.width), u32::from(i.height), ch, px)
    }

    /// Largest and mean absolute difference of two pixel buffers.
    fn diff(a: &[u8], b: &[u8]) -> (u8, f64) {
        let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        let sum: u64 = a.iter().zip(b).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
        (max, sum as f64 / a.len().max(1) as f64)
    }

    /// A photo-like RGB image encoded by `image` (4:2:0 at quality 90).
    fn synthetic(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let n = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 23;
            image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, ((x + y) % 200) as u8 + n as u8])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
        out
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn matches_jpeg_decoder_at_one_eighth() {
        let mut files: Vec<(String, Vec<u8>)> = ["jpeg_baseline.jpg", "jpeg_gray.jpg", "orient-6.jpg", "jpeg_displayp3.jpg"]
            .iter()
            .map(|n| (n.to_string(), fixture(n)))
            .collect();
        for name in ["restart_420.jpg", "restart_444.jpg"] {
            let path = format!("{}/tests/fixtures-native/{name}", env!("CARGO_MANIFEST_DIR"));
            files.push((name.into(), std::fs::read(path).unwrap()));
        }
        files.push(("synthetic 803×611".into(), synthetic(803, 611)));
        files.push(("synthetic 64×8".into(), synthetic(64, 8)));
        for (name, bytes) in &files {
            let got = ours(bytes).unwrap_or_else(|| panic!("{name}: DC path declined"));
            let (w, h, ch, want) = reference(bytes);
            assert_eq!((got.w, got.h, got.ch), (w, h, ch), "{name}: geometry");
            assert_eq!(got.px.len(), want.len(), "{name}: pixel count");
            let (max, mean) = diff(&got.px, &want);
            // Same DC values; chroma is replicated here but interpolated by
            // jpeg-decoder's fancy upsampling, and the RGB rounding differs.
            // A decoding bug (tables, restarts, block order) shows as errors
            // of tens of levels over whole areas.
            assert!(mean < 3.0 && max <= 40, "{name}: max {max}, mean {mean:.2}");
        }
    }

    #[test]
    fn grayscale_is_exact() {
        let bytes = fixture("jpeg_gray.jpg");
        let got = ours(&bytes).unwrap();
        let (_, _, ch, want) = reference(&bytes);
        assert_eq!((got.ch, ch), (1, 1));
        assert_eq!(got.px, want, "DC values must be jpeg-decoder's exactly");
    }

    #[test]
    fn full_chroma_with_restart_markers_is_exact_but_for_rounding() {
        // 4:4:4 needs no upsampling: only the YCbCr → RGB rounding may differ.
        let path = format!("{}/tests/fixtures-native/restart_444.jpg", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.windows(2).any(|w| w == [0xFF, 0xDD]), "fixture has DRI");
        let got = ours(&bytes).expect("DC path takes it");
        let (_, _, _, want) = reference(&bytes);
        assert!(diff(&got.px, &want).0 <= 1, "{:?}", diff(&got.px, &want));
    }

    #[test]
    fn declines_what_it_does_not_handle() {
        for name in ["jpeg_progressive.jpg", "jpeg_cmyk.jpg", "truncated.jpg", "empty.jpg"] {
            assert!(ours(&fixture(name)).is_none(), "{name} must go to jpeg-decoder");
        }
    }

    #[test]
    fn truncated_entropy_data_is_declined() {
        let bytes = synthetic(320, 240);
        let cut = &bytes[..bytes.len() * 2 / 3];
        assert!(ours(cut).is_none());
        assert!(ours(&bytes).is_some());
    }

    #[test]
    fn missing_restart_markers_are_declined() {
        // A DRI segment whose RSTn markers are not in the data.
        let bytes = synthetic(160, 120);
        let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let mut with_dri = bytes[..sos].to_vec();
        with_dri.extend_from_slice(&[0xFF, 0xDD, 0x00, 0x04, 0x00, 0x02]);
        with_dri.extend_from_slice(&bytes[sos..]);
        // No RST markers in the data: the first restart check fails.
        assert!(ours(&with_dri).is_none());
    }

    #[test]
    fn hostile_headers_never_panic() {
        let bytes = synthetic(96, 64);
        // Every single-byte corruption of the headers and the first scan bytes.
        let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        for i in 0..(sos + 40).min(bytes.len()) {
            for v in [0x00, 0x01, 0x0F, 0x10, 0x7F, 0xC2, 0xFF] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = run(&b, (96, 64), |w, h, layout, _| Buffer { w, h, ch: layout.channels(), px: Vec::new() });
            }
        }
    }
}
