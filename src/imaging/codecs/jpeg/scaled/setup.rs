//! What the DC-only decoder reads from the marker segments: the frame
//! (SOF), the tables in force (DQT's DC entries, DHT, DRI), the ICC
//! chunks, and each scan's header (SOS), walking the file with the JPEG
//! module's marker rules. Anything it does not take declines the file.

use super::bits::Bits;
use super::huffman::Huffman;
use super::idct::UNZIGZAG;
use super::stop::Stop;
use crate::imaging::bytes;
use crate::imaging::codecs::jpeg::markers::{
    marker_after_data, marker_at, segment, stands_alone, APP14, APP2, DHT, DQT, DRI, EOI, SOF0, SOF2, SOS,
};
use crate::imaging::limits::MAX_ICC_BYTES;
use crate::imaging::work::Work;

/// One component of the frame and its scan tables.
#[derive(Clone, Copy, Default)]
pub(super) struct Component {
    pub(super) id: u8,
    pub(super) h: usize,
    pub(super) v: usize,
    pub(super) quant: usize,
    pub(super) dc_table: usize,
    pub(super) ac_table: usize,
}

/// The frame (SOF) and the tables in force.
pub(super) struct Setup {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) progressive: bool,
    pub(super) comps: Vec<Component>,
    /// An Adobe APP14 segment (it decides the colour transform).
    pub(super) adobe: bool,
    pub(super) quant_dc: [i32; 4],
    /// Every quantisation table in natural (row-major) order.
    pub(super) quant: [[u16; 64]; 4],
    pub(super) quant_seen: [bool; 4],
    pub(super) dc: [Option<Huffman>; 4],
    pub(super) ac: [Option<Huffman>; 4],
    pub(super) restart_interval: usize,
    pub(super) icc: Vec<(u8, Vec<u8>)>,
}

/// One SOS: its components (frame indices), spectral selection and
/// successive approximation, and where its entropy-coded data starts.
pub(super) struct Scan {
    pub(super) comps: Vec<usize>,
    pub(super) ss: u8,
    pub(super) se: u8,
    pub(super) ah: u8,
    pub(super) al: u8,
    pub(super) start: usize,
}

/// A big-endian u16 of the file as a length or size.
fn be16(b: &[u8], at: usize) -> Option<usize> {
    bytes::be16(b, at).map(usize::from)
}

/// The last `0xFF` before the code of the marker after the entropy-coded
/// data from `p` (the bytes up to it are what skipping the data costs).
pub(super) fn next_marker(b: &[u8], p: usize) -> Option<usize> {
    marker_after_data(b, p).ok().map(|m| m.next - 2)
}

impl Setup {
    pub(super) fn new() -> Setup {
        Setup {
            width: 0,
            height: 0,
            progressive: false,
            comps: Vec::new(),
            adobe: false,
            quant_dc: [0; 4],
            quant: [[0; 64]; 4],
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
    pub(super) fn next_scan(&mut self, b: &[u8], mut pos: usize) -> Option<Option<Scan>> {
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
    /// sampling factors 1 to 4 (what the check walks); [`Setup::supported`]
    /// says whether our decoder takes it.
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

    /// Our decoder's own limits: grey or YCbCr (no Adobe APP14 transform,
    /// no RGB component ids, no CMYK), sampling factors 1 or 2.
    pub(super) fn supported(&self) -> bool {
        let nc = self.comps.len();
        let rgb = nc == 3 && self.comps.iter().map(|c| c.id).eq(*b"RGB");
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

    /// DQT: the tables, stored in zigzag order, kept in natural order (at
    /// 1/8 scale only the DC entry is used).
    fn quant_tables(&mut self, seg: &[u8]) -> Option<()> {
        let mut p = 0;
        while p < seg.len() {
            let pq_tq = *seg.get(p)?;
            let id = usize::from(pq_tq & 15);
            let wide = match pq_tq >> 4 {
                0 => false,
                1 => true,
                _ => return None,
            };
            if id > 3 {
                return None;
            }
            let step = if wide { 129 } else { 65 };
            let values = seg.get(p + 1..p + step)?;
            for (k, &natural) in UNZIGZAG.iter().enumerate() {
                self.quant[id][natural] =
                    if wide { u16::from_be_bytes([values[2 * k], values[2 * k + 1]]) } else { u16::from(values[k]) };
            }
            self.quant_dc[id] = i32::from(self.quant[id][0]);
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

    pub(super) fn max_factors(&self) -> (usize, usize) {
        let hmax = self.comps.iter().map(|c| c.h).max().unwrap_or(1);
        let vmax = self.comps.iter().map(|c| c.v).max().unwrap_or(1);
        (hmax, vmax)
    }

    /// MCU grid of the frame: (mcus_x, mcus_y).
    pub(super) fn mcu_grid(&self) -> (usize, usize) {
        let (hmax, vmax) = self.max_factors();
        (self.width.div_ceil(8 * hmax), self.height.div_ceil(8 * vmax))
    }

    /// The blocks a scan codes, as jpeg-decoder walks them: `(units_x,
    /// units_y, blocks per unit)`. Interleaved: MCUs of h×v blocks per
    /// component. One component: its own block grid, one block per unit;
    /// jpeg-decoder bounds it by the MCU-padded grid and by the image's size
    /// in 8-pixel steps, which for the usual factors is the standard's count.
    pub(super) fn scan_units(&self, scan: &Scan) -> (usize, usize, usize) {
        let (mcus_x, mcus_y) = self.mcu_grid();
        if let [ci] = scan.comps[..] {
            let c = &self.comps[ci];
            ((mcus_x * c.h).min(self.width.div_ceil(8)), (mcus_y * c.v).min(self.height.div_ceil(8)), 1)
        } else {
            (mcus_x, mcus_y, scan.comps.iter().map(|&ci| self.comps[ci].h * self.comps[ci].v).sum())
        }
    }
}

/// A block of a scan, as [`each_block`] hands it on.
#[derive(Clone, Copy)]
pub(super) struct BlockAt {
    /// Its component's place in the scan, and in the frame.
    pub(super) k: usize,
    pub(super) ci: usize,
    /// Where it sits in the component's MCU-padded block grid.
    pub(super) x: usize,
    pub(super) y: usize,
    /// A restart interval began with its MCU, and it is that MCU's first
    /// block: predictions and end-of-band runs start again.
    pub(super) restarted: bool,
}

/// The cost of a scan's blocks: units per block visited and per byte of
/// entropy-coded data read.
pub(super) struct ScanCost {
    pub(super) block: u64,
    pub(super) byte: u64,
}

/// Walks the blocks of `scan` in coding order ([`Setup::scan_units`]),
/// stepping over the restart markers, and hands each to `block` with the
/// bit reader. Each row of units is charged before it is read (its
/// blocks, and the bytes the previous row read). Returns where the scan's
/// data was read up to; a scan whose data ends before its blocks is
/// [`Stop::Truncated`].
#[inline(always)]
pub(super) fn each_block(
    bytes: &[u8],
    s: &Setup,
    scan: &Scan,
    work: &Work,
    cost: ScanCost,
    mut block: impl FnMut(&mut Bits, BlockAt) -> Result<(), Stop>,
) -> Result<usize, Stop> {
    let single = scan.comps.len() == 1;
    let (units_x, units_y, per_unit) = s.scan_units(scan);
    let mut bits = Bits::new(bytes, scan.start, s.restart_interval);
    let mut charged_to = scan.start;
    for uy in 0..units_y {
        work.charge((units_x * per_unit) as u64 * cost.block + (bits.pos() - charged_to) as u64 * cost.byte)?;
        charged_to = bits.pos();
        for ux in 0..units_x {
            let mut restarted = bits.next_mcu()?;
            for (k, &ci) in scan.comps.iter().enumerate() {
                let c = &s.comps[ci];
                let (bh, bw) = if single { (1, 1) } else { (c.v, c.h) };
                for by in 0..bh {
                    for bx in 0..bw {
                        let (x, y) = if single { (ux, uy) } else { (ux * c.h + bx, uy * c.v + by) };
                        block(&mut bits, BlockAt { k, ci, x, y, restarted })?;
                        restarted = false;
                    }
                }
            }
        }
    }
    bits.finish()
}

/// The ICC profile from its APP2 chunks in sequence order, if complete and
/// not over [`MAX_ICC_BYTES`].
pub(super) fn icc_profile(mut chunks: Vec<(u8, Vec<u8>)>) -> Option<Vec<u8>> {
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
