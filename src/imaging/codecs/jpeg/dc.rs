//! JPEG at 1/8 scale from the DC coefficients alone.
//!
//! At 1/8 scale every 8×8 block becomes one pixel: its DC coefficient.
//!
//! * Sequential (baseline) JPEG: the AC coefficients must still be walked
//!   (Huffman codes have no index), but are not stored, dequantised or
//!   transformed; an AC code and its extra bits are skipped in one table
//!   lookup. This is the whole cost of a phone photo's decode. One MCU row
//!   of DC values is kept at a time and its rows go to the collector at
//!   once (memory grows with the width); once the collector has the crop
//!   square, only the entropy decoding goes on, so a damaged or truncated
//!   file is still noticed.
//! * Progressive JPEG: only the DC scans (first pass and refinements) are
//!   decoded, into one value per block; the AC scans are skipped to the next
//!   marker without decoding. Memory is 2 bytes per block instead of 128.
//!
//! It takes only the common case: 8-bit Huffman (SOF0/SOF1/SOF2),
//! grayscale or YCbCr (no Adobe APP14 transform, no RGB component ids),
//! sampling factors 1 or 2, restart markers allowed; a sequential file must
//! have one scan with all components. Anything else, and any anomaly in
//! the entropy data, returns `Ok(None)` and the caller uses `jpeg-decoder`
//! instead, which then decides what is an error; but a scan whose data
//! ends before its blocks do is refused here as damaged (a decoder would
//! read the rest from zero bits: the 150-byte 10000×10000 JPEG of issue
//! 12). Pixel values match `jpeg-decoder`'s 1/8 output: DC × quant / 8 +
//! 128 and JFIF YCbCr → RGB; chroma is replicated, where jpeg-decoder
//! interpolates it.
//!
//! [`check`] walks the entropy data of any frame jpeg-decoder takes, with
//! its rules, to prove every scan's data covers its blocks before
//! jpeg-decoder (which cannot be stopped) is called. Both charge the
//! upload's work counter per row of blocks.

use super::markers::{
    marker_after_data, marker_at, segment, stands_alone, APP14, APP2, DHT, DQT, DRI, EOI, SOF0, SOF2, SOS,
};
use crate::imaging::bytes;
use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, Plan};
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::MAX_ICC_BYTES;
use crate::imaging::resize::{Collector, Region};
use crate::imaging::work::{cost, Spent, Work};

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
    /// AC skipping in one step, for codes whose length plus extra bits is
    /// ≤ SKIP_BITS: `total bits | (run + 1) << 5 | kind << 10`, kind
    /// 0 = a coefficient, 1 = end of block, 2 = sixteen zeros; 0 = use
    /// the slow path. (The serial Huffman lookups are the decode's whole
    /// cost; this halves the dependent steps per coefficient.)
    skip: Vec<u16>,
}

const LOOKAHEAD: u32 = 9;
const SKIP_BITS: u32 = 11;
const SKIP_EOB: u16 = 1 << 10;
const SKIP_ZRL: u16 = 2 << 10;
const MULTI_BITS: u32 = 14;
const MULTI_EOB: u32 = 1 << 20;

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
            skip: vec![0; 1 << SKIP_BITS],
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
                    let sym = *symbols.get((k + i) as usize)?;
                    let extra = u32::from(sym & 15);
                    let total = len as u32 + extra;
                    if total <= SKIP_BITS {
                        let kind = match (sym >> 4, sym & 15) {
                            (15, 0) => SKIP_ZRL,
                            (_, 0) => SKIP_EOB,
                            _ => 0,
                        };
                        let entry = total as u16 | (u16::from(sym >> 4) + 1) << 5 | kind;
                        // Every index whose top `len` bits are this code.
                        let shift = SKIP_BITS - len as u32;
                        for fill in 0..(1usize << shift) {
                            *t.skip.get_mut(((c as usize) << shift) | fill)? = entry;
                        }
                    }
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

    /// Several AC codes skipped in one step: for the next MULTI_BITS bits,
    /// `total bits | advance << 8 | MULTI_EOB` of the whole codes (with
    /// their extra bits) they start with; 0 = not even one fits. At phone
    /// qualities most lookups step over two or more coefficients (12 MP
    /// decode 27 -> 19 ms natively; 16 bits is slower: the tables no
    /// longer stay in cache and cost more to build). Built only for the AC
    /// tables a sequential scan uses (progressive AC scans are not decoded).
    fn multi_table(&self) -> Vec<u32> {
        (0..1u64 << MULTI_BITS).map(|idx| multi_entry(&self.skip, idx)).collect()
    }
}

/// The `multi_table` entry for the MULTI_BITS bits `idx`: walks the single-code
/// `skip` table while whole codes (and their extra bits) fit.
fn multi_entry(skip: &[u16], idx: u64) -> u32 {
    let bits = idx << (64 - MULTI_BITS);
    let (mut used, mut advance) = (0u32, 0u32);
    while used < MULTI_BITS {
        let e = skip.get(((bits << used) >> (64 - SKIP_BITS)) as usize).copied().unwrap_or(0);
        let total = u32::from(e & 31);
        if e == 0 || used + total > MULTI_BITS {
            break;
        }
        used += total;
        match e & (3 << 10) {
            0 => advance += u32::from((e >> 5) & 31),
            SKIP_EOB => return used | advance << 8 | MULTI_EOB,
            _ => advance += 16,
        }
    }
    used | advance << 8
}

/// Big-endian bit reader over entropy-coded data: skips stuffed zero bytes,
/// stops at a marker and then feeds zero bits (as libjpeg does), counting
/// them: a decode that consumes one of those has run out of data
/// ([`Bits::overrun`]).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    at_marker: bool,
    /// The data ended without a marker: a truncated file.
    eof: bool,
    /// Zero bytes fed since the data stopped.
    fed: u64,
    /// Restart interval in MCUs (0: none), MCUs left before the next RSTn,
    /// and that marker's number.
    interval: usize,
    left: usize,
    next_rst: u8,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize, restart_interval: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
            at_marker: false,
            eof: false,
            fed: 0,
            interval: restart_interval,
            left: restart_interval,
            next_rst: 0,
        }
    }

    /// Some of the zero bits fed after the data stopped were consumed: the
    /// scan (or its restart interval) ended before its blocks did. Those
    /// bits sit at the end of the accumulator, behind the `n` unread ones.
    fn overrun(&self) -> bool {
        self.fed.saturating_mul(8) > u64::from(self.n)
    }

    /// Call before each MCU: refuses a scan whose data ran out during the
    /// previous one, and steps over the RSTn marker when an interval ends.
    /// `Ok(true)`: a restart happened, so the DC predictions start again
    /// from 0.
    fn next_mcu(&mut self) -> Result<bool, Stop> {
        if self.overrun() {
            return Err(Stop::Truncated);
        }
        if self.interval == 0 {
            return Ok(false);
        }
        let restarted = self.left == 0;
        if restarted {
            self.restart(self.next_rst).or_decline()?;
            self.next_rst = (self.next_rst + 1) & 7;
            self.left = self.interval;
        }
        self.left -= 1;
        Ok(restarted)
    }

    /// The end of a scan: its data must have covered every block.
    fn finish(&self) -> Result<usize, Stop> {
        if self.overrun() || self.eof {
            return Err(Stop::Truncated);
        }
        Ok(self.pos)
    }

    #[inline(always)]
    fn refill(&mut self) {
        // Fast path: the next 8 bytes hold no 0xFF (no stuffing, no
        // marker), so as many whole bytes as fit go in at once.
        if !self.at_marker {
            if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
                let mut eight = [0u8; 8];
                eight.copy_from_slice(chunk);
                let v = u64::from_be_bytes(eight);
                let x = !v; // a 0xFF byte of v is a zero byte of x
                if x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 == 0 {
                    let k = (64 - self.n) / 8; // ≥ 1 whole bytes fit (n ≤ 56)
                    if k > 0 {
                        let top = v >> (64 - 8 * k);
                        self.acc |= top << (64 - 8 * k - self.n);
                        self.pos += k as usize;
                        self.n += 8 * k;
                        return;
                    }
                }
            }
        }
        while self.n <= 56 {
            let mut byte = 0u8;
            if self.at_marker {
                self.fed += 1;
            } else {
                match self.data.get(self.pos) {
                    Some(&0xFF) => match self.data.get(self.pos + 1) {
                        Some(&0) => {
                            byte = 0xFF;
                            self.pos += 2;
                        }
                        Some(_) => self.at_marker = true,
                        None => {
                            self.at_marker = true;
                            self.eof = true;
                        }
                    },
                    Some(&b) => {
                        byte = b;
                        self.pos += 1;
                    }
                    None => {
                        self.at_marker = true;
                        self.eof = true;
                    }
                }
                if self.at_marker {
                    self.fed += 1;
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

    /// `s` raw bits as an unsigned number.
    #[inline(always)]
    fn extend_raw(&mut self, s: u32) -> u32 {
        if s == 0 {
            return 0;
        }
        if self.n < 32 {
            self.refill();
        }
        let v = self.peek(s);
        self.consume(s);
        v
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
        self.fed = 0;
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

/// The frame (SOF) and the tables in force.
struct Setup {
    width: usize,
    height: usize,
    progressive: bool,
    comps: Vec<Component>,
    /// An Adobe APP14 segment (it decides the colour transform).
    adobe: bool,
    quant_dc: [i32; 4],
    quant_seen: [bool; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: usize,
    icc: Vec<(u8, Vec<u8>)>,
}

/// One SOS: its components (frame indices), spectral selection and
/// successive approximation, and where its entropy-coded data starts.
struct Scan {
    comps: Vec<usize>,
    ss: u8,
    se: u8,
    ah: u8,
    al: u8,
    start: usize,
}

/// A big-endian u16 of the file as a length or size.
fn be16(b: &[u8], at: usize) -> Option<usize> {
    bytes::be16(b, at).map(usize::from)
}

/// The last `0xFF` before the code of the marker after the entropy-coded
/// data from `p` (the bytes up to it are what skipping the data costs).
fn next_marker(b: &[u8], p: usize) -> Option<usize> {
    marker_after_data(b, p).ok().map(|m| m.next - 2)
}

impl Setup {
    fn new() -> Setup {
        Setup {
            width: 0,
            height: 0,
            progressive: false,
            comps: Vec::new(),
            adobe: false,
            quant_dc: [0; 4],
            quant_seen: [false; 4],
            dc: [None, None, None, None],
            ac: [None, None, None, None],
            restart_interval: 0,
            icc: Vec::new(),
        }
    }

    /// Reads marker segments from `pos` (at a marker) to the next SOS,
    /// returning that scan, or `Ok(None)` at EOI. `None` (outer): this path
    /// does not apply.
    fn next_scan(&mut self, b: &[u8], mut pos: usize) -> Option<Option<Scan>> {
        loop {
            let m = marker_at(b, pos).ok()?;
            if m.code == EOI {
                return Some(None);
            }
            // Standalone markers belong nowhere here.
            if stands_alone(m.code) {
                return None;
            }
            let segment = segment(b, m).ok()?;
            let seg = segment.body;
            match m.code {
                // SOF0/SOF1: Huffman sequential; SOF2: Huffman progressive.
                SOF0..=SOF2 => self.frame(seg, m.code == SOF2)?,
                // Lossless, hierarchical and arithmetic-coded frames.
                0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
                DHT => self.huffman_tables(seg)?,
                DQT => self.quant_tables(seg)?,
                DRI => self.restart_interval = be16(seg, 0)?,
                // APP2 ICC_PROFILE chunks.
                APP2 => {
                    if let (Some(b"ICC_PROFILE\0"), Some(&seq), Some(data)) =
                        (seg.get(..12), seg.get(12), seg.get(14..))
                    {
                        self.icc.push((seq, data.to_vec()));
                    }
                }
                APP14 if seg.starts_with(b"Adobe") => self.adobe = true,
                SOS => return Some(Some(self.scan(seg, segment.end)?)),
                _ => {}
            }
            pos = segment.end;
        }
    }

    /// The frame header: any 8-bit frame of 1 to 4 components with
    /// sampling factors 1 to 4 (what [`check`] walks); [`Setup::dc_path`]
    /// says whether the DC-only decoder takes it.
    fn frame(&mut self, seg: &[u8], progressive: bool) -> Option<()> {
        if *seg.first()? != 8 || !self.comps.is_empty() {
            return None;
        }
        self.progressive = progressive;
        self.height = be16(seg, 1)?;
        self.width = be16(seg, 3)?;
        let nc = usize::from(*seg.get(5)?);
        if self.width == 0 || self.height == 0 || !(1..=4).contains(&nc) {
            return None;
        }
        for i in 0..nc {
            let c = seg.get(6 + i * 3..9 + i * 3)?;
            let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
                return None;
            }
            self.comps.push(Component { id: c[0], h, v, quant: usize::from(c[2]), ..Default::default() });
        }
        // A single component is coded block by block, whatever its factors.
        if nc == 1 {
            self.comps[0].h = 1;
            self.comps[0].v = 1;
        }
        Some(())
    }

    /// The DC-only decoder's own limits: grey or YCbCr (no Adobe APP14
    /// transform, no RGB component ids, no CMYK), sampling factors 1 or 2.
    fn dc_path(&self) -> bool {
        let nc = self.comps.len();
        let rgb = nc == 3 && self.comps.iter().map(|c| c.id).eq([b'R', b'G', b'B']);
        (nc == 1 || nc == 3) && !rgb && !self.adobe && self.comps.iter().all(|c| c.h <= 2 && c.v <= 2)
    }

    fn huffman_tables(&mut self, seg: &[u8]) -> Option<()> {
        let mut p = 0;
        while p < seg.len() {
            let tc_th = *seg.get(p)?;
            let (class, id) = (tc_th >> 4, usize::from(tc_th & 15));
            let counts: [u8; 16] = seg.get(p + 1..p + 17)?.try_into().ok()?;
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let symbols = seg.get(p + 17..p + 17 + total)?;
            let table = Huffman::new(&counts, symbols)?;
            match (class, id) {
                (0, 0..=3) => self.dc[id] = Some(table),
                (1, 0..=3) => self.ac[id] = Some(table),
                _ => return None,
            }
            p += 17 + total;
        }
        Some(())
    }

    /// DQT: only each table's DC entry matters at 1/8 scale.
    fn quant_tables(&mut self, seg: &[u8]) -> Option<()> {
        let mut p = 0;
        while p < seg.len() {
            let pq_tq = *seg.get(p)?;
            let id = usize::from(pq_tq & 15);
            if id > 3 {
                return None;
            }
            let (q0, step) =
                if pq_tq >> 4 == 0 { (i32::from(*seg.get(p + 1)?), 65) } else { (be16(seg, p + 1)? as i32, 129) };
            seg.get(p + step - 1)?;
            self.quant_dc[id] = q0;
            self.quant_seen[id] = true;
            p += step;
        }
        Some(())
    }

    fn scan(&mut self, seg: &[u8], start: usize) -> Option<Scan> {
        if self.comps.is_empty() {
            return None;
        }
        let ns = usize::from(*seg.first()?);
        if ns == 0 || ns > self.comps.len() {
            return None;
        }
        let mut comps = Vec::with_capacity(ns);
        for i in 0..ns {
            let id = *seg.get(1 + i * 2)?;
            let tables = *seg.get(2 + i * 2)?;
            let ci = self.comps.iter().position(|c| c.id == id)?;
            // In frame order, each once.
            if comps.last().is_some_and(|&last| last >= ci) {
                return None;
            }
            let c = &mut self.comps[ci];
            c.dc_table = usize::from(tables >> 4);
            c.ac_table = usize::from(tables & 15);
            if c.dc_table > 3 || c.ac_table > 3 || !self.quant_seen[c.quant] {
                return None;
            }
            comps.push(ci);
        }
        let p = seg.get(1 + ns * 2..4 + ns * 2)?;
        Some(Scan { comps, ss: p[0], se: p[1], ah: p[2] >> 4, al: p[2] & 15, start })
    }

    fn max_factors(&self) -> (usize, usize) {
        let hmax = self.comps.iter().map(|c| c.h).max().unwrap_or(1);
        let vmax = self.comps.iter().map(|c| c.v).max().unwrap_or(1);
        (hmax, vmax)
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

/// Why a decode stopped before the end of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Not for this path, or entropy data this decoder does not take: the
    /// general decoder (jpeg-decoder) decides.
    Decline,
    /// A scan's data (or a restart interval's) ended before its blocks: a
    /// damaged file, for any decoder.
    Truncated,
    /// The upload's work budget is spent.
    Spent,
}

/// `Option` → [`Stop::Decline`]: a lookup that fails means the data is not
/// what this decoder takes.
trait OrDecline<T> {
    fn or_decline(self) -> Result<T, Stop>;
}

impl<T> OrDecline<T> for Option<T> {
    fn or_decline(self) -> Result<T, Stop> {
        self.ok_or(Stop::Decline)
    }
}

impl From<Spent> for Stop {
    fn from(_: Spent) -> Stop {
        Stop::Spent
    }
}

/// The error for a truncated scan.
fn truncated() -> ImageError {
    damaged(SourceFormat::Jpeg, "truncated: a scan's data ends before its blocks do")
}

/// Decodes at 1/8 scale into the collector made by `plan`. `Ok(None)`:
/// this file is not for this path (or its entropy data is odd); use the
/// general decoder, which then decides. A scan whose data runs out is
/// refused here, not handed on: jpeg-decoder would decode the rest of it
/// from zero bits. Once the collector has its rows only the entropy
/// decoding goes on, so a damaged or truncated file is still noticed.
pub fn decode(bytes: &[u8], plan: &Plan<'_>) -> Result<Option<Region>, ImageError> {
    let made = run(bytes, (plan.width, plan.height), plan.work, |w, h, layout, icc| plan.collector(w, h, layout, icc));
    match made {
        Ok(collector) => Ok(collector.into_region()),
        Err(Stop::Decline) => Ok(None),
        Err(Stop::Truncated) => Err(truncated()),
        Err(Stop::Spent) => {
            Err(plan.work_refusal(SourceFormat::Jpeg, dc_path_units(bytes.len(), plan.width, plan.height)))
        }
    }
}

/// What a DC-only decode of a `w`×`h` frame of `bytes` would cost at most
/// (3 blocks a pixel of the 1/8 grid, every byte entropy-coded), for the
/// refusal's figures.
fn dc_path_units(bytes: usize, w: u32, h: u32) -> u64 {
    let (ow, oh) = (w.div_ceil(8), h.div_ceil(8));
    3 * u64::from(ow) * u64::from(oh) * cost::JPEG_DC_BLOCK
        + bytes as u64 * cost::JPEG_ENTROPY_BYTE
        + Plan::collector_units(ow, oh)
}

/// Where the decoded rows go: the resize collector, or a test's buffer.
trait Rows {
    fn push_row(&mut self, row: &[u8]) -> Result<(), Spent>;
    fn done(&self) -> bool;
}

impl Rows for Collector<'_> {
    fn push_row(&mut self, row: &[u8]) -> Result<(), Spent> {
        Collector::push_row(self, row)
    }
    fn done(&self) -> bool {
        Collector::done(self)
    }
}

/// The decode proper: `make` gets the 1/8-scale size, layout and ICC
/// profile and returns the sink for the rows; errors as for [`decode`].
fn run<S: Rows>(
    bytes: &[u8],
    size: (u32, u32),
    work: &Work,
    make: impl FnOnce(u32, u32, Layout, Option<&[u8]>) -> S,
) -> Result<S, Stop> {
    if bytes.get(0..2) != Some(&[0xFF, 0xD8]) {
        return Err(Stop::Decline);
    }
    let mut s = Setup::new();
    let first = s.next_scan(bytes, 2).or_decline()?.or_decline()?;
    if (s.width as u32, s.height as u32) != size || !s.dc_path() {
        return Err(Stop::Decline);
    }
    let (out_w, out_h) = (s.width.div_ceil(8), s.height.div_ceil(8));
    let layout = if s.comps.len() == 1 { Layout::Gray } else { Layout::Rgb };
    let icc = icc_profile(std::mem::take(&mut s.icc));
    let sink = make(out_w as u32, out_h as u32, layout, icc.as_deref());
    if s.progressive {
        progressive(bytes, s, first, work, sink)
    } else {
        sequential(bytes, &s, &first, work, sink)
    }
}

/// MCU grid of the frame: (mcus_x, mcus_y).
fn mcu_grid(s: &Setup) -> (usize, usize) {
    let (hmax, vmax) = s.max_factors();
    (s.width.div_ceil(8 * hmax), s.height.div_ceil(8 * vmax))
}

/// jpeg-decoder's 1×1 IDCT of a DC coefficient: (DC·q + 1024) / 8, clamped.
fn dc_pixel(dc: i32, q: i32) -> u8 {
    (dc.wrapping_mul(q).wrapping_add(1024) / 8).clamp(0, 255) as u8
}

/// Huffman-decodes one block of a sequential scan: the DC difference is
/// added to `pred`, the AC coefficients are read past. `None`: a code not
/// in the tables.
#[inline(always)]
fn sequential_block(bits: &mut Bits, dc_t: &Huffman, ac_t: &Huffman, multi: &[u32], pred: &mut i32) -> Option<()> {
    let t = u32::from(bits.symbol(dc_t)?);
    if t > 11 {
        return None;
    }
    *pred = pred.wrapping_add(bits.extend(t));
    let mut k = 1;
    while k < 64 {
        if bits.n < 32 {
            bits.refill();
        }
        // Several codes at once, unless they might reach past this block
        // (a block also ends after coefficient 63 without an EOB, and the
        // bits after that are the next block's DC code).
        let m = multi[bits.peek(MULTI_BITS) as usize];
        let advance = ((m >> 8) & 0xFFF) as usize;
        if m != 0 && k + advance < 64 {
            bits.consume(m & 31);
            k += advance;
            if m & MULTI_EOB != 0 {
                break;
            }
            continue;
        }
        let e = ac_t.skip[bits.peek(SKIP_BITS) as usize];
        if e != 0 {
            bits.consume(u32::from(e & 31));
            match e & (3 << 10) {
                0 => k += usize::from((e >> 5) & 31),
                SKIP_EOB => break,
                _ => k += 16,
            }
            continue;
        }
        let rs = bits.symbol(ac_t)?;
        let (r, sz) = (usize::from(rs >> 4), u32::from(rs & 15));
        if sz == 0 {
            if r != 15 {
                break;
            }
            k += 16;
            continue;
        }
        k += r + 1;
        bits.skip(sz);
    }
    if k > 64 {
        return None;
    }
    Some(())
}

/// A sequential frame: its single scan with every component, decoded one
/// MCU row at a time; the rows go to the sink as soon as they exist. Each
/// MCU row is charged before it is decoded (its blocks, and the bytes the
/// previous one read).
fn sequential<S: Rows>(bytes: &[u8], s: &Setup, scan: &Scan, work: &Work, mut sink: S) -> Result<S, Stop> {
    if scan.comps.len() != s.comps.len() || (scan.ss, scan.se, scan.ah, scan.al) != (0, 63, 0, 0) {
        return Err(Stop::Decline);
    }
    let (hmax, vmax) = s.max_factors();
    let (mcus_x, mcus_y) = mcu_grid(s);
    let (out_w, out_h) = (s.width.div_ceil(8), s.height.div_ceil(8));
    let comps = &s.comps;
    // One MCU row of DC pixels per component: (mcus_x·h) × v values.
    let mut planes: Vec<Vec<u8>> = comps.iter().map(|c| vec![0u8; mcus_x * c.h * c.v]).collect();
    let mut row = vec![0u8; out_w * comps.len()];
    let mut pred = [0i32; 3];
    let mut bits = Bits::new(bytes, scan.start, s.restart_interval);
    let mut multi: [Vec<u32>; 4] = Default::default();
    for c in comps {
        if multi[c.ac_table].is_empty() {
            multi[c.ac_table] = s.ac[c.ac_table].as_ref().or_decline()?.multi_table();
        }
    }
    let tables: Vec<(&Huffman, &Huffman, &[u32], i32)> = comps
        .iter()
        .map(|c| {
            Some((s.dc[c.dc_table].as_ref()?, s.ac[c.ac_table].as_ref()?, &multi[c.ac_table][..], s.quant_dc[c.quant]))
        })
        .collect::<Option<_>>()
        .or_decline()?;
    let row_blocks = (mcus_x * comps.iter().map(|c| c.h * c.v).sum::<usize>()) as u64;
    let mut charged_to = scan.start;

    for mcu_y in 0..mcus_y {
        work.charge(row_blocks * cost::JPEG_DC_BLOCK + (bits.pos - charged_to) as u64 * cost::JPEG_ENTROPY_BYTE)?;
        charged_to = bits.pos;
        for mcu_x in 0..mcus_x {
            if bits.next_mcu()? {
                pred = [0; 3];
            }
            for (ci, c) in comps.iter().enumerate() {
                let (dc_t, ac_t, multi, q) = tables[ci];
                let plane = planes.get_mut(ci).or_decline()?;
                let stride = mcus_x * c.h;
                for by in 0..c.v {
                    for bx in 0..c.h {
                        sequential_block(&mut bits, dc_t, ac_t, multi, &mut pred[ci]).or_decline()?;
                        *plane.get_mut(by * stride + mcu_x * c.h + bx).or_decline()? = dc_pixel(pred[ci], q);
                    }
                }
            }
        }
        // The MCU row's output rows (vmax of them at 1/8 scale); once the
        // sink has all it needs, only the entropy decoding goes on.
        for sub in 0..vmax {
            let y = mcu_y * vmax + sub;
            if y >= out_h || sink.done() {
                break;
            }
            let lines: Vec<&[u8]> = comps
                .iter()
                .zip(&planes)
                .map(|(c, p)| {
                    let r = sub * c.v / vmax;
                    p.get(r * mcus_x * c.h..(r + 1) * mcus_x * c.h)
                })
                .collect::<Option<_>>()
                .or_decline()?;
            emit_row(&lines, comps, hmax, &mut row).or_decline()?;
            sink.push_row(&row)?;
        }
    }
    bits.finish()?;
    Ok(sink)
}

/// A progressive frame: only the DC scans are decoded (first pass and
/// refinements), into one DC value per block; AC scans are skipped to the
/// next marker without decoding. Rows are produced at the end (EOI).
fn progressive<S: Rows>(bytes: &[u8], mut s: Setup, first: Scan, work: &Work, mut sink: S) -> Result<S, Stop> {
    let (hmax, vmax) = s.max_factors();
    let (mcus_x, mcus_y) = mcu_grid(&s);
    let grid: Vec<(usize, usize)> = s.comps.iter().map(|c| (mcus_x * c.h, mcus_y * c.v)).collect();
    let mut coef: Vec<Vec<i16>> = grid.iter().map(|&(w, h)| vec![0i16; w * h]).collect();
    let mut dc_done = vec![false; s.comps.len()];
    let mut scan = first;
    loop {
        let end = if scan.ss == 0 {
            if scan.se != 0 {
                return Err(Stop::Decline);
            }
            dc_scan(bytes, &s, &scan, &grid, &mut coef, &mut dc_done, work)?
        } else {
            scan.start
        };
        let at = next_marker(bytes, end).or_decline()?;
        // Skipping an AC scan's data is a memchr over it.
        work.charge((at - end) as u64 * cost::JPEG_SKIPPED_BYTE)?;
        match s.next_scan(bytes, at).or_decline()? {
            Some(next) => scan = next,
            None => break,
        }
    }
    if dc_done.contains(&false) {
        return Err(Stop::Decline);
    }
    let (out_w, out_h) = (s.width.div_ceil(8), s.height.div_ceil(8));
    let mut row = vec![0u8; out_w * s.comps.len()];
    let mut lines: Vec<Vec<u8>> = grid.iter().map(|&(w, _)| vec![0u8; w]).collect();
    for y in 0..out_h {
        if sink.done() {
            break;
        }
        for (ci, c) in s.comps.iter().enumerate() {
            let (w, _) = grid[ci];
            let r = y * c.v / vmax;
            let q = s.quant_dc[c.quant];
            let src = coef[ci].get(r * w..(r + 1) * w).or_decline()?;
            for (d, &v) in lines[ci].iter_mut().zip(src) {
                *d = dc_pixel(i32::from(v), q);
            }
        }
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        emit_row(&refs, &s.comps, hmax, &mut row).or_decline()?;
        sink.push_row(&row)?;
    }
    Ok(sink)
}

/// The blocks a scan codes, as jpeg-decoder walks them: `(units_x,
/// units_y, blocks per unit)`. Interleaved: MCUs of h×v blocks per
/// component. One component: its own block grid, one block per unit;
/// jpeg-decoder bounds it by the MCU-padded grid and by the image's size
/// in 8-pixel steps, which for the usual factors is the standard's count.
fn scan_units(s: &Setup, scan: &Scan) -> (usize, usize, usize) {
    let (mcus_x, mcus_y) = mcu_grid(s);
    if let [ci] = scan.comps[..] {
        let c = &s.comps[ci];
        ((mcus_x * c.h).min(s.width.div_ceil(8)), (mcus_y * c.v).min(s.height.div_ceil(8)), 1)
    } else {
        (mcus_x, mcus_y, scan.comps.iter().map(|&ci| s.comps[ci].h * s.comps[ci].v).sum())
    }
}

/// One progressive DC scan (first pass: Ah = 0; refinement: one bit per
/// block). Returns where its data was read up to.
fn dc_scan(
    bytes: &[u8],
    s: &Setup,
    scan: &Scan,
    grid: &[(usize, usize)],
    coef: &mut [Vec<i16>],
    dc_done: &mut [bool],
    work: &Work,
) -> Result<usize, Stop> {
    let refine = scan.ah != 0;
    if scan.al > 13 || (refine && scan.ah != scan.al + 1) {
        return Err(Stop::Decline);
    }
    for &ci in &scan.comps {
        // A refinement needs the first pass; a second first pass is odd.
        if refine != dc_done[ci] {
            return Err(Stop::Decline);
        }
    }
    let mut bits = Bits::new(bytes, scan.start, s.restart_interval);
    let mut pred = [0i32; 3];
    let al = u32::from(scan.al);
    let tables: Vec<Option<&Huffman>> = scan.comps.iter().map(|&ci| s.dc[s.comps[ci].dc_table].as_ref()).collect();
    if !refine && tables.iter().any(Option::is_none) {
        return Err(Stop::Decline);
    }
    let single = scan.comps.len() == 1;
    let (units_x, units_y, per_unit) = scan_units(s, scan);
    let mut charged_to = scan.start;
    for uy in 0..units_y {
        work.charge(
            (units_x * per_unit) as u64 * cost::JPEG_DC_BLOCK
                + (bits.pos - charged_to) as u64 * cost::JPEG_ENTROPY_BYTE,
        )?;
        charged_to = bits.pos;
        for ux in 0..units_x {
            if bits.next_mcu()? {
                pred = [0; 3];
            }
            for (k, &ci) in scan.comps.iter().enumerate() {
                let c = &s.comps[ci];
                let (gw, _) = grid[ci];
                let (bh, bw) = if single { (1, 1) } else { (c.v, c.h) };
                for by in 0..bh {
                    for bx in 0..bw {
                        let (x, y) = if single { (ux, uy) } else { (ux * c.h + bx, uy * c.v + by) };
                        let slot = coef.get_mut(ci).or_decline()?.get_mut(y * gw + x).or_decline()?;
                        if refine {
                            if bits.n < 32 {
                                bits.refill();
                            }
                            if bits.peek(1) == 1 {
                                *slot |= 1 << al;
                            }
                            bits.consume(1);
                        } else {
                            let t = u32::from(bits.symbol(tables[k].or_decline()?).or_decline()?);
                            if t > 11 {
                                return Err(Stop::Decline);
                            }
                            pred[k] = pred[k].wrapping_add(bits.extend(t));
                            *slot = (pred[k] << al) as i16;
                        }
                    }
                }
            }
        }
    }
    let end = bits.finish()?;
    for &ci in &scan.comps {
        dc_done[ci] = true;
    }
    Ok(end)
}

/// Entropy-decodes every scan the way jpeg-decoder will, keeping nothing
/// but which coefficients are non-zero (a progressive refinement scan reads
/// a correction bit for each of those), to prove that every scan's data
/// covers its blocks before jpeg-decoder, which cannot be stopped once
/// called and reads zero bits past the end of a scan, decodes the file.
/// `Ok(true)`: every scan's data covers its blocks. `Ok(false)`: something
/// this walk does not follow (a table or code it does not take, a restart
/// marker out of place), so nothing is proven and jpeg-decoder decides.
/// Charges its own work; `whole` (the cost of the decode it precedes) names
/// a refusal.
pub fn check(bytes: &[u8], plan: &Plan<'_>, whole: u64) -> Result<bool, ImageError> {
    match walk(bytes, plan.work) {
        Ok(()) => Ok(true),
        Err(Stop::Decline) => Ok(false),
        Err(Stop::Truncated) => Err(truncated()),
        Err(Stop::Spent) => Err(plan.work_refusal(SourceFormat::Jpeg, whole)),
    }
}

fn walk(bytes: &[u8], work: &Work) -> Result<(), Stop> {
    if bytes.get(0..2) != Some(&[0xFF, 0xD8]) {
        return Err(Stop::Decline);
    }
    let mut s = Setup::new();
    let mut scan = s.next_scan(bytes, 2).or_decline()?.or_decline()?;
    // Which of a block's 64 coefficients (zigzag order) are non-zero, per
    // component, over jpeg-decoder's MCU-padded block grid; only
    // progressive refinement scans need it.
    let (mcus_x, mcus_y) = mcu_grid(&s);
    let mut nonzero: Vec<Vec<u64>> = if s.progressive {
        s.comps.iter().map(|c| vec![0u64; mcus_x * c.h * mcus_y * c.v]).collect()
    } else {
        Vec::new()
    };
    loop {
        let end = walk_scan(bytes, &s, &scan, &mut nonzero, work)?;
        let at = next_marker(bytes, end).or_decline()?;
        match s.next_scan(bytes, at).or_decline()? {
            Some(next) => scan = next,
            None => return Ok(()),
        }
    }
}

/// One scan of [`walk`]; returns where its data was read up to.
fn walk_scan(bytes: &[u8], s: &Setup, scan: &Scan, nonzero: &mut [Vec<u64>], work: &Work) -> Result<usize, Stop> {
    let (ss, se, ah, al) = (scan.ss, scan.se, scan.ah, scan.al);
    // What jpeg-decoder refuses before decoding (or cannot mean anything).
    if se > 63
        || ss > se
        || al > 13
        || (!s.progressive && (ss, se, ah, al) != (0, 63, 0, 0))
        || (s.progressive && ss == 0 && se != 0)
    {
        return Err(Stop::Decline);
    }
    let blocks_per_mcu: usize = scan.comps.iter().map(|&ci| s.comps[ci].h * s.comps[ci].v).sum();
    if scan.comps.len() > 1 && blocks_per_mcu > 10 {
        return Err(Stop::Decline);
    }
    let tables = scan
        .comps
        .iter()
        .map(|&ci| {
            let c = &s.comps[ci];
            let dc = if ss == 0 && ah == 0 { Some(s.dc[c.dc_table].as_ref()?) } else { None };
            let ac = if se > 0 { Some(s.ac[c.ac_table].as_ref()?) } else { None };
            Some((dc, ac))
        })
        .collect::<Option<Vec<_>>>()
        .or_decline()?;
    let (mcus_x, _) = mcu_grid(s);
    let single = scan.comps.len() == 1;
    let (units_x, units_y, per_unit) = scan_units(s, scan);
    let band = Band { start: ss, end: se + 1, ah, al };
    let mut spare = 0u64; // the mask of a sequential block (never read)
    let mut bits = Bits::new(bytes, scan.start, s.restart_interval);
    let mut eob_run = 0u32;
    let mut charged_to = scan.start;
    for uy in 0..units_y {
        let row = (units_x * per_unit) as u64;
        work.charge(row * cost::JPEG_DC_BLOCK + (bits.pos - charged_to) as u64 * cost::JPEG_ENTROPY_BYTE)?;
        charged_to = bits.pos;
        for ux in 0..units_x {
            if bits.next_mcu()? {
                eob_run = 0;
            }
            for (k, &ci) in scan.comps.iter().enumerate() {
                let c = &s.comps[ci];
                let (bh, bw) = if single { (1, 1) } else { (c.v, c.h) };
                for by in 0..bh {
                    for bx in 0..bw {
                        let (x, y) = if single { (ux, uy) } else { (ux * c.h + bx, uy * c.v + by) };
                        let mask = match nonzero.get_mut(ci) {
                            Some(grid) => grid.get_mut(y * mcus_x * c.h + x).or_decline()?,
                            None => &mut spare,
                        };
                        walk_block(&mut bits, tables[k], &band, &mut eob_run, mask).or_decline()?;
                    }
                }
            }
        }
    }
    bits.finish()
}

/// A scan's spectral band (zigzag `start..end`) and successive approximation.
struct Band {
    start: u8,
    end: u8,
    ah: u8,
    al: u8,
}

/// One block as jpeg-decoder's `decode_block` (first passes, sequential)
/// or `decode_block_successive_approximation` (refinements) reads it: the
/// same codes, extra bits, end-of-band runs and correction bits. `mask`:
/// the block's non-zero coefficients, kept up to date. `None`: a code or
/// value jpeg-decoder refuses.
fn walk_block(
    bits: &mut Bits,
    (dc, ac): (Option<&Huffman>, Option<&Huffman>),
    band: &Band,
    eob_run: &mut u32,
    mask: &mut u64,
) -> Option<()> {
    let end = band.end;
    if band.ah == 0 {
        if band.start == 0 {
            let t = u32::from(bits.symbol(dc?)?);
            if t > 11 {
                return None;
            }
            bits.skip(t);
        }
        let mut k = band.start.max(1);
        if k < end && *eob_run > 0 {
            *eob_run -= 1;
            return Some(());
        }
        while k < end {
            let rs = bits.symbol(ac?)?;
            let (r, size) = (rs >> 4, u32::from(rs & 15));
            if size == 0 {
                if r == 15 {
                    k += 16;
                    continue;
                }
                *eob_run = (1 << r) - 1 + bits.extend_raw(u32::from(r));
                break;
            }
            k += r;
            if k >= end {
                break;
            }
            // jpeg-decoder stores the value shifted into an i16: it may
            // wrap to zero.
            let value = bits.extend(size) as i16;
            if value.wrapping_shl(u32::from(band.al)) != 0 {
                *mask |= 1 << k;
            } else {
                *mask &= !(1 << k);
            }
            k += 1;
        }
    } else if band.start == 0 {
        bits.skip(1);
    } else {
        if *eob_run > 0 {
            *eob_run -= 1;
            refine_walk(bits, *mask, band.start, end, 64);
            return Some(());
        }
        let mut k = band.start;
        while k < end {
            let rs = bits.symbol(ac?)?;
            let (r, size) = (rs >> 4, rs & 15);
            let mut zero_run = r;
            match size {
                0 if r != 15 => {
                    *eob_run = (1 << r) - 1 + bits.extend_raw(u32::from(r));
                    zero_run = 64;
                }
                0 => {}
                1 => bits.skip(1),
                _ => return None,
            }
            k = refine_walk(bits, *mask, k, end, zero_run);
            if size == 1 {
                *mask |= 1 << k;
            }
            k += 1;
        }
    }
    Some(())
}

/// jpeg-decoder's `refine_non_zeroes`: from `start`, a correction bit for
/// each non-zero coefficient, passing `zero_run` zero ones; returns where
/// the next zero one (or the band's last coefficient) is.
fn refine_walk(bits: &mut Bits, mask: u64, start: u8, end: u8, zero_run: u8) -> u8 {
    let mut zeros = zero_run;
    for i in start..end {
        if mask & (1 << i) == 0 {
            if zeros == 0 {
                return i;
            }
            zeros -= 1;
        } else {
            bits.skip(1);
        }
    }
    end - 1
}

/// One output row from per-component lines of DC pixels: chroma replicated
/// to the luma grid, JFIF YCbCr → RGB in 16-bit fixed point.
fn emit_row(lines: &[&[u8]], comps: &[Component], hmax: usize, row: &mut [u8]) -> Option<()> {
    if lines.len() == 1 {
        let n = row.len();
        row.copy_from_slice(lines[0].get(..n)?);
        return Some(());
    }
    let step = |ci: usize| hmax / comps[ci].h;
    let (ys, cbs, crs) = (step(0), step(1), step(2));
    for (x, px) in row.chunks_exact_mut(3).enumerate() {
        let y = i32::from(*lines[0].get(x / ys)?) << 16;
        let cb = i32::from(*lines[1].get(x / cbs)?) - 128;
        let cr = i32::from(*lines[2].get(x / crs)?) - 128;
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
        fn push_row(&mut self, row: &[u8]) -> Result<(), Spent> {
            self.px.extend_from_slice(row);
            Ok(())
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

    fn buffer(w: u32, h: u32, layout: Layout, _icc: Option<&[u8]>) -> Buffer {
        Buffer { w, h, ch: layout.channels(), px: Vec::new() }
    }

    fn unlimited() -> Work {
        Work::with_budget(u64::MAX, 0)
    }

    fn ours(bytes: &[u8]) -> Result<Buffer, Stop> {
        run(bytes, dims(bytes), &unlimited(), buffer)
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

    /// BT.601 luma of RGB pixels.
    fn luma(px: &[u8]) -> Vec<u8> {
        px.chunks_exact(3)
            .map(|c| ((299 * u32::from(c[0]) + 587 * u32::from(c[1]) + 114 * u32::from(c[2])) / 1000) as u8)
            .collect()
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn matches_jpeg_decoder_at_one_eighth() {
        let mut files: Vec<(String, Vec<u8>)> =
            ["jpeg_baseline.jpg", "jpeg_gray.jpg", "orient-6.jpg", "jpeg_displayp3.jpg", "jpeg_progressive.jpg"]
                .iter()
                .map(|n| (n.to_string(), fixture(n)))
                .collect();
        for name in ["restart_420.jpg", "restart_444.jpg", "q_progressive.jpg"] {
            let path = format!("{}/tests/fixtures-native/{name}", env!("CARGO_MANIFEST_DIR"));
            files.push((name.into(), std::fs::read(path).unwrap()));
        }
        files.push(("synthetic 803×611".into(), synthetic(803, 611)));
        files.push(("synthetic 64×8".into(), synthetic(64, 8)));
        for (name, bytes) in &files {
            let got = ours(bytes).unwrap_or_else(|e| panic!("{name}: DC path stopped: {e:?}"));
            let (w, h, ch, want) = reference(bytes);
            assert_eq!((got.w, got.h, got.ch), (w, h, ch), "{name}: geometry");
            assert_eq!(got.px.len(), want.len(), "{name}: pixel count");
            let (max, mean) = diff(&got.px, &want);
            // Same DC values; chroma is replicated here but interpolated by
            // jpeg-decoder's fancy upsampling, and the RGB rounding differs.
            // A decoding bug (tables, restarts, block order, DC scans) shows
            // as errors of tens of levels over whole areas. Luma is the DC
            // values themselves: equal but for the RGB rounding.
            assert!(mean < 3.0 && max <= 40, "{name}: max {max}, mean {mean:.2}");
            if ch == 3 {
                let (lmax, lmean) = diff(&luma(&got.px), &luma(&want));
                assert!(lmean < 1.0 && lmax <= 8, "{name}: luma max {lmax}, mean {lmean:.2}");
            }
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
        for name in ["jpeg_cmyk.jpg", "empty.jpg"] {
            assert_eq!(ours(&fixture(name)).err(), Some(Stop::Decline), "{name} must go to jpeg-decoder");
        }
    }

    #[test]
    fn truncated_entropy_data_is_refused_not_handed_on() {
        // jpeg-decoder would decode the missing blocks from zero bits.
        let bytes = synthetic(320, 240);
        let cut = &bytes[..bytes.len() * 2 / 3];
        assert_eq!(ours(cut).err(), Some(Stop::Truncated));
        assert_eq!(ours(&fixture("truncated.jpg")).err(), Some(Stop::Truncated));
        assert!(ours(&bytes).is_ok());
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
        assert_eq!(ours(&with_dri).err(), Some(Stop::Decline));
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let progressive =
            std::fs::read(format!("{}/tests/fixtures-native/q_progressive.jpg", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for bytes in [synthetic(96, 64), progressive] {
            let size = dims(&bytes);
            // Every single-byte corruption of the headers and of the first
            // bytes of every scan, then every cut.
            let scans: Vec<usize> =
                bytes.windows(2).enumerate().filter(|(_, w)| *w == [0xFF, 0xDA]).map(|(i, _)| i).collect();
            let last = scans.last().copied().unwrap_or(0);
            let spots: Vec<usize> =
                (0..last.min(bytes.len())).chain(scans.iter().flat_map(|&s| s..(s + 40).min(bytes.len()))).collect();
            for &i in &spots {
                for v in [0x00, 0x01, 0x0F, 0x10, 0x7F, 0xC2, 0xDA, 0xFF] {
                    let mut b = bytes.clone();
                    b[i] = v;
                    let _ = run(&b, size, &unlimited(), buffer);
                    let _ = walk(&b, &unlimited());
                }
            }
            for cut in 0..bytes.len() {
                let r = run(&bytes[..cut], size, &unlimited(), buffer);
                assert!(r.is_err(), "a file cut at {cut} of {} was taken", bytes.len());
                assert!(
                    walk(&bytes[..cut], &unlimited()).is_err(),
                    "the check passed a file cut at {cut} of {}",
                    bytes.len()
                );
            }
        }
    }
}
