//! A sequential frame at 1/4, 1/2 or full scale: each block's
//! low-frequency coefficients (the top-left 2×2 or 4×4; at full size all
//! 64) are decoded and transformed to 2×2, 4×4 or 8×8 pixels, the others
//! only read past; chroma is upsampled and converted row by row as soon
//! as the rows it needs exist.

use super::bits::Bits;
use super::colour::ycc_row;
use super::huffman::{read_past_ac, Huffman, Multi, Value, END_OF_BLOCK, SKIP_BITS};
use super::idct::{idct_nxn, last_needed, slot, UNZIGZAG};
use super::setup::{Scan, Setup};
use super::stop::{OrDecline, Stop};
use super::upsample::Plane;
use super::Rows;
use crate::imaging::work::{cost, Work};
use std::ops::Range;

/// What a colour row is made of: RGB, or (for the tests) the upsampled
/// Y, Cb, Cr samples as they are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    Rgb,
    #[cfg(test)]
    Ycc,
}

/// A component's tables for the scan.
struct Tables<'a> {
    dc: &'a Huffman,
    ac: &'a Huffman,
    values: &'a [Value],
    multi: &'a [Multi],
    /// Per zigzag position: its quantisation step if the block's top-left
    /// `n`×`n` has it, else 0.
    steps: [i32; 64],
}

/// Per zigzag position: where it goes in the `n`×`n` block, or
/// [`SPARE`] for the ones outside it (stored and never read, so that the
/// hot loop has no branch for them).
fn slots(n: usize) -> [u8; 64] {
    std::array::from_fn(|k| slot(k, n).map_or(SPARE as u8, |s| s as u8))
}

/// The slot the coefficients outside the `n`×`n` block are written to.
const SPARE: usize = 64;

/// A block's dequantised top-left coefficients (row-major), and the spare.
type Coefficients = [i32; SPARE + 1];

/// Huffman-decodes one block: the DC difference added to `pred`, the
/// coefficients of the top-left `N`×`N` dequantised into `coef`
/// (row-major), the rest read past. `None`: what jpeg-decoder reads
/// differently or refuses (a code not in the table, an end-of-band run, a
/// block past 64 coefficients).
#[inline(always)]
fn block<const N: usize>(
    bits: &mut Bits,
    t: &Tables,
    slots: &[u8; 64],
    pred: &mut i16,
    coef: &mut Coefficients,
) -> Option<()> {
    let dc = u32::from(t.dc.decode(bits)?);
    if dc > 11 {
        return None;
    }
    *pred = pred.wrapping_add(bits.extend(dc) as i16);
    coef[..N * N].fill(0);
    coef[0] = i32::from(*pred).wrapping_mul(t.steps[0]);
    let mut k = 1;
    while k <= last_needed(N) {
        bits.top_up();
        let e = t.values[bits.peek(SKIP_BITS) as usize];
        let (run, value) = if !e.is_empty() {
            bits.consume(e.bits());
            (e.run(), e.value())
        } else {
            let rs = t.ac.decode(bits)?;
            match (usize::from(rs >> 4), u32::from(rs & 15)) {
                (0, 0) => return Some(()),
                (15, 0) => (15, 0),
                (_, 0) => return None,
                (run, size) => (run, bits.extend(size)),
            }
        };
        k += run;
        if k > 63 {
            return (run == END_OF_BLOCK).then_some(());
        }
        coef[usize::from(slots[k])] = value.wrapping_mul(t.steps[k]);
        k += 1;
    }
    read_past_ac(bits, t.ac, t.multi, k)
}

/// The frame's single scan with every component, at scale `n`/8 (2, 4
/// or 8), one MCU row at a time; output rows go to the sink as soon as the
/// plane rows they are made of exist. Each MCU row is charged before it
/// is decoded (its blocks, and the bytes the previous one read), each
/// output row as it is made.
pub(super) fn sequential<S: Rows>(
    bytes: &[u8],
    s: &Setup,
    scan: &Scan,
    n: usize,
    output: Output,
    work: &Work,
    mut sink: S,
) -> Result<S, Stop> {
    let comps = &s.comps;
    if !matches!(n, 2 | 4 | 8)
        || scan.comps.len() != comps.len()
        || (scan.ss, scan.se, scan.ah, scan.al) != (0, 63, 0, 0)
        // jpeg-decoder refuses a table with a zero step.
        || comps.iter().any(|c| s.quant[c.quant].contains(&0))
    {
        return Err(Stop::Decline);
    }
    let (mcus_x, mcus_y) = s.mcu_grid();
    let mut planes = planes(s, n, HELD_MCU_ROWS);

    let mut values: [Vec<Value>; 4] = Default::default();
    let mut multi: [Vec<Multi>; 4] = Default::default();
    for c in comps {
        if values[c.ac_table].is_empty() {
            let ac = s.ac[c.ac_table].as_ref().or_decline()?;
            values[c.ac_table] = ac.value_table();
            // At full size every coefficient is decoded: nothing is read past.
            if n < 8 {
                multi[c.ac_table] = ac.multi_table();
            }
        }
    }
    let tables: Vec<Tables> = comps
        .iter()
        .map(|c| {
            Some(Tables {
                dc: s.dc[c.dc_table].as_ref()?,
                ac: s.ac[c.ac_table].as_ref()?,
                values: &values[c.ac_table],
                multi: &multi[c.ac_table],
                steps: std::array::from_fn(|k| {
                    if slot(k, n).is_some() {
                        i32::from(s.quant[c.quant][UNZIGZAG[k]])
                    } else {
                        0
                    }
                }),
            })
        })
        .collect::<Option<_>>()
        .or_decline()?;
    let slots = slots(n);
    let row_blocks = (mcus_x * comps.iter().map(|c| c.h * c.v).sum::<usize>()) as u64;
    let block_cost = cost::JPEG_VISIT + cost::JPEG_IDCT[n];
    let mut emit = Emit::new(s, &planes, n, output);
    let mut pred = [0i16; 3];
    let mut coef: Coefficients = [0; SPARE + 1];
    let mut bits = Bits::new(bytes, scan.start, s.restart_interval);
    let mut charged_to = scan.start;
    let (mcu_rows, mcu_cols) = mcus_around_crop(s, n, &sink);

    for mcu_y in 0..mcus_y {
        work.charge(row_blocks * block_cost + (bits.pos() - charged_to) as u64 * cost::JPEG_DECODER_BYTE)?;
        charged_to = bits.pos();
        for mcu_x in 0..mcus_x {
            if bits.next_mcu()? {
                pred = [0; 3];
            }
            for (ci, c) in comps.iter().enumerate() {
                let plane = planes.get_mut(ci).or_decline()?;
                for by in 0..c.v {
                    for bx in 0..c.h {
                        let decoded = match n {
                            8 => block::<8>(&mut bits, &tables[ci], &slots, &mut pred[ci], &mut coef),
                            4 => block::<4>(&mut bits, &tables[ci], &slots, &mut pred[ci], &mut coef),
                            _ => block::<2>(&mut bits, &tables[ci], &slots, &mut pred[ci], &mut coef),
                        };
                        decoded.or_decline()?;
                        if !(mcu_rows.contains(&mcu_y) && mcu_cols.contains(&mcu_x)) {
                            continue;
                        }
                        let (x, y) = ((mcu_x * c.h + bx) * n, (mcu_y * c.v + by) * n);
                        let stride = plane.stride;
                        let out = plane.block_mut(x, y).or_decline()?;
                        idct_nxn(n, coef.first_chunk().or_decline()?, out, stride);
                    }
                }
            }
        }
        emit.ready_rows(&planes, mcu_y + 1, work, &mut sink)?;
    }
    bits.finish()?;
    emit.ready_rows(&planes, mcus_y, work, &mut sink)?;
    Ok(sink)
}

/// The MCU rows a decode keeps of each plane: the one being made and the
/// one before. An output row is made of plane rows in its own MCU row and
/// at most one neighbouring row (the chroma stretch's farther row), so
/// the rows still to be made once MCU row `k` is made read only MCU rows
/// `k` and `k + 1`: making `k + 1` may overwrite `k - 1`.
pub(super) const HELD_MCU_ROWS: usize = 2;

/// Each component's plane at scale `n`/8, over the MCU-padded block grid,
/// stretched to the output grid as jpeg-decoder chooses, holding the last
/// `held` MCU rows.
pub(super) fn planes(s: &Setup, n: usize, held: usize) -> Vec<Plane> {
    let (hmax, vmax) = s.max_factors();
    let (mcus_x, mcus_y) = s.mcu_grid();
    let (out_w, out_h) = ((s.width * n).div_ceil(8), (s.height * n).div_ceil(8));
    s.comps
        .iter()
        .map(|c| {
            let size = ((s.width * c.h * n).div_ceil(hmax * 8), (s.height * c.v * n).div_ceil(vmax * 8));
            let stretch = (c.h != hmax && out_w > 1, c.v != vmax && out_h > 1);
            Plane::new((mcus_x * c.h, mcus_y * c.v), (c.v, held), n, size, stretch)
        })
        .collect()
}

/// The MCU rows and columns whose pixels the sink keeps, and one more on
/// every side (upsampling reads a neighbour): the other blocks need not
/// be transformed.
pub(super) fn mcus_around_crop<S: Rows>(s: &Setup, n: usize, sink: &S) -> (Range<usize>, Range<usize>) {
    let (hmax, vmax) = s.max_factors();
    let around = |kept: Range<usize>, mcu: usize| {
        let first = (kept.start / mcu).saturating_sub(1);
        let last = kept.end.saturating_sub(1) / mcu + 1;
        first..last + 1
    };
    (around(sink.rows(), vmax * n), around(sink.columns(), hmax * n))
}

/// The buffers an output row is made in, and the next row to make.
pub(super) struct Emit {
    /// Each plane's stretched row (at least `width` samples).
    lines: Vec<Vec<u8>>,
    width: usize,
    height: usize,
    next: usize,
    row: Vec<u8>,
    output: Output,
}

impl Emit {
    /// The buffers for the rows of a frame decoded at scale `n`/8 into
    /// `planes`.
    pub(super) fn new(s: &Setup, planes: &[Plane], n: usize, output: Output) -> Emit {
        let width = (s.width * n).div_ceil(8);
        let line = planes.iter().map(Plane::stretched_width).max().unwrap_or(0).max(width);
        let lines = vec![vec![0u8; line]; planes.len()];
        let height = (s.height * n).div_ceil(8);
        Emit { lines, width, height, next: 0, row: vec![0u8; width * planes.len()], output }
    }

    /// Makes the output rows not made yet whose plane rows the first
    /// `mcu_rows` MCU rows hold (all of them once every MCU row is made),
    /// up to the last row the sink wants.
    pub(super) fn ready_rows<S: Rows>(
        &mut self,
        planes: &[Plane],
        mcu_rows: usize,
        work: &Work,
        sink: &mut S,
    ) -> Result<(), Stop> {
        while self.next < self.height && !sink.done() && planes.iter().all(|p| p.has_rows_for(self.next, mcu_rows)) {
            self.row(planes, self.next, work, sink)?;
            self.next += 1;
        }
        Ok(())
    }

    /// Output row `y`: every plane's row stretched, converted, handed on.
    fn row<S: Rows>(&mut self, planes: &[Plane], y: usize, work: &Work, sink: &mut S) -> Result<(), Stop> {
        work.charge(self.width as u64 * cost::JPEG_PIXEL)?;
        if !sink.rows().contains(&y) {
            // Above the crop: the sink takes the row unread.
            sink.push_row(&self.row)?;
            return Ok(());
        }
        for (plane, line) in planes.iter().zip(&mut self.lines) {
            plane.stretch_row(y, line, sink.columns());
        }
        let w = self.width;
        match &self.lines[..] {
            [gray] => sink.push_row(&gray[..w])?,
            [y, cb, cr] => {
                let (y, cb, cr) = (&y[..w], &cb[..w], &cr[..w]);
                match self.output {
                    Output::Rgb => ycc_row(y, cb, cr, &mut self.row, sink.columns()),
                    #[cfg(test)]
                    Output::Ycc => {
                        for (((px, &y), &cb), &cr) in self.row.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
                            px.copy_from_slice(&[y, cb, cr]);
                        }
                    }
                }
                sink.push_row(&self.row)?;
            }
            _ => return Err(Stop::Decline),
        }
        Ok(())
    }
}
