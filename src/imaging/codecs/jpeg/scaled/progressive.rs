//! A progressive frame at 1/4, 1/2 or full scale. Every scan is
//! entropy-decoded as jpeg-decoder decodes it, but of each block only the
//! top-left 2×2 or 4×4 coefficients (what the reduced IDCT reads; at full
//! size all 64) are kept, and of the others only whether they are
//! non-zero, which is all a refinement scan needs of them (it reads a
//! correction bit for each non-zero one). At the end of the image the
//! blocks around the crop are transformed an MCU row at a time and the
//! rows made as for a sequential frame, so the samples are
//! jpeg-decoder's.
//!
//! A block takes [`block_bytes`]: at 1/4 and 1/2 well under jpeg-decoder's
//! 128, at full size 138.

use super::bits::Bits;
use super::huffman::{Huffman, Value, END_OF_BLOCK, SKIP_BITS};
use super::idct::{idct_nxn, slot};
use super::reduced::{mcus_around_crop, planes, Emit, Output, HELD_MCU_ROWS};
use super::setup::{each_block, next_marker, Scan, ScanCost, Setup};
use super::stop::{OrDecline, Stop};
use super::upsample::Plane;
use super::Rows;
use crate::imaging::work::{cost, Work};
use std::ops::Range;

/// One component's coefficients over the MCU-padded block grid.
struct Blocks {
    /// Blocks per row of the grid.
    across: usize,
    /// Coefficients kept per block (n²), then one spare slot that the
    /// others are written to and never read from.
    per_block: usize,
    /// Per block, the kept coefficients (row-major) as the scans leave
    /// them: shifted by their successive approximation, not dequantised.
    kept: Vec<i16>,
    /// Per block, which of the 64 coefficients (zigzag order) are non-zero.
    nonzero: Vec<u64>,
    /// The zigzag positions a first pass has decoded (refinements need it).
    first_passes: u64,
}

/// Bytes [`Blocks`] holds a block at scale `n`/8: its kept coefficients
/// and the spare (`i16`), and its mask.
pub(super) const fn block_bytes(n: usize) -> usize {
    2 * (n * n + 1) + 8
}

impl Blocks {
    fn new(across: usize, down: usize, n: usize) -> Blocks {
        let per_block = n * n + 1;
        Blocks {
            across,
            per_block,
            kept: vec![0; across * down * per_block],
            nonzero: vec![0; across * down],
            first_passes: 0,
        }
    }

    /// Block (`x`, `y`)'s kept coefficients (and spare).
    fn kept(&self, x: usize, y: usize) -> Option<&[i16]> {
        let i = y * self.across + x;
        self.kept.get(i * self.per_block..(i + 1) * self.per_block)
    }

    /// Block (`x`, `y`): its kept coefficients (and spare) and its mask.
    fn block(&mut self, x: usize, y: usize) -> Option<(&mut [i16], &mut u64)> {
        let i = y * self.across + x;
        let kept = self.kept.get_mut(i * self.per_block..(i + 1) * self.per_block)?;
        Some((kept, self.nonzero.get_mut(i)?))
    }
}

/// Where each coefficient of a block goes.
pub(super) struct Square {
    /// Per zigzag position: its slot among the kept coefficients, or the
    /// spare.
    slots: [u8; 64],
    /// The zigzag positions with a slot of their own.
    kept: u64,
    /// The positions up to the last of them.
    low: u64,
}

impl Square {
    /// The top-left `n`×`n` coefficients kept (row-major), the others
    /// written to the spare slot `n²`; with `n` 0 none is kept (a walk
    /// that only follows which coefficients are non-zero).
    pub(super) fn new(n: usize) -> Square {
        let slots = std::array::from_fn(|k| slot(k, n).unwrap_or(n * n) as u8);
        let kept: u64 = (0..64).filter(|&k| slot(k, n).is_some()).fold(0, |m, k| m | 1 << k);
        Square { slots, kept, low: positions(0, 64 - kept.leading_zeros() as usize) }
    }
}

/// The frame's scans, first to last, at scale `n`/8 (2, 4 or 8); then the
/// output rows. Each scan's rows of blocks are charged before they are
/// decoded (their blocks, and the bytes the previous row read), the
/// transforms and rows as they are made.
pub(super) fn progressive<S: Rows>(
    bytes: &[u8],
    mut s: Setup,
    first: Scan,
    n: usize,
    output: Output,
    work: &Work,
    mut sink: S,
) -> Result<S, Stop> {
    if !matches!(n, 2 | 4 | 8) {
        return Err(Stop::Decline);
    }
    let (mcus_x, mcus_y) = s.mcu_grid();
    let mut blocks: Vec<Blocks> = s.comps.iter().map(|c| Blocks::new(mcus_x * c.h, mcus_y * c.v, n)).collect();
    let square = Square::new(n);
    let mut scan = first;
    loop {
        let end = decode_scan(bytes, &s, &scan, &mut blocks, &square, work)?;
        let at = next_marker(bytes, end).or_decline()?;
        match s.next_scan(bytes, at).or_decline()? {
            Some(next) => scan = next,
            None => break,
        }
    }
    // jpeg-decoder dequantises with the tables in force at the end, and
    // refuses a table with a zero step.
    if blocks.iter().any(|b| b.first_passes & 1 == 0) || s.comps.iter().any(|c| s.quant[c.quant].contains(&0)) {
        return Err(Stop::Decline);
    }

    // The planes are made an MCU row at a time (the blocks around the
    // crop), each output row as soon as its plane rows exist.
    let (mcu_rows, mcu_cols) = mcus_around_crop(&s, n, &sink);
    // Each component's quantisation step of each kept slot (row-major n×n).
    let steps: Vec<[i32; 64]> = s
        .comps
        .iter()
        .map(|c| {
            let quant = &s.quant[c.quant];
            std::array::from_fn(|j| if j < n * n { i32::from(quant[(j / n) * 8 + j % n]) } else { 0 })
        })
        .collect();
    let mut planes = planes(&s, n, HELD_MCU_ROWS);
    let mut emit = Emit::new(&s, &planes, n, output);
    for mcu_y in 0..mcus_y {
        if mcu_rows.contains(&mcu_y) {
            transform(&s, &blocks, &steps, n, (mcu_y, &mcu_cols), &mut planes, work)?;
        }
        emit.ready_rows(&planes, mcu_y + 1, work, &mut sink)?;
        if sink.done() {
            break;
        }
    }
    Ok(sink)
}

/// MCU row `mcu_y` of each component's plane at scale `n`/8, from the
/// kept coefficients of its blocks in the MCU columns `mcu_cols`,
/// dequantised by the component's `steps` (the others are left unmade).
fn transform(
    s: &Setup,
    blocks: &[Blocks],
    steps: &[[i32; 64]],
    n: usize,
    (mcu_y, mcu_cols): (usize, &Range<usize>),
    planes: &mut [Plane],
    work: &Work,
) -> Result<(), Stop> {
    let (mcus_x, _) = s.mcu_grid();
    for (((c, comp), steps), plane) in s.comps.iter().zip(blocks).zip(steps).zip(planes) {
        let stride = plane.stride;
        let across = mcu_cols.start * c.h..(mcu_cols.end * c.h).min(mcus_x * c.h);
        for by in mcu_y * c.v..(mcu_y + 1) * c.v {
            work.charge(across.len() as u64 * cost::JPEG_IDCT[n])?;
            for bx in across.clone() {
                let kept = comp.kept(bx, by).or_decline()?;
                let mut coefficients = [0i32; 64];
                // The spare slot, if zipped in, meets a step of 0.
                for ((coefficient, &k), &step) in coefficients.iter_mut().zip(kept).zip(steps) {
                    *coefficient = i32::from(k).wrapping_mul(step);
                }
                let out = plane.block_mut(bx * n, by * n).or_decline()?;
                idct_nxn(n, &coefficients, out, stride);
            }
        }
    }
    Ok(())
}

/// A scan's spectral band (zigzag `start..end`) and successive approximation.
#[derive(Clone, Copy)]
pub(super) struct Band {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) refine: bool,
    pub(super) al: u32,
}

impl Band {
    /// The band's zigzag positions as a mask.
    pub(super) fn mask(&self) -> u64 {
        positions(self.start, self.end)
    }
}

/// One scan into `blocks`; returns where its data was read up to. What
/// jpeg-decoder would refuse, or what no encoder writes (an interleaved AC
/// scan, a refinement of what no first pass decoded, a second first pass),
/// declines the file.
fn decode_scan(
    bytes: &[u8],
    s: &Setup,
    scan: &Scan,
    blocks: &mut [Blocks],
    square: &Square,
    work: &Work,
) -> Result<usize, Stop> {
    let (ss, se, ah, al) = (usize::from(scan.ss), usize::from(scan.se), scan.ah, scan.al);
    if se > 63 || ss > se || al > 13 || (ss == 0) != (se == 0) || (ss > 0 && scan.comps.len() != 1) {
        return Err(Stop::Decline);
    }
    if ah != 0 && ah != al + 1 {
        return Err(Stop::Decline);
    }
    let band = Band { start: ss, end: se + 1, refine: ah != 0, al: u32::from(al) };
    for &ci in &scan.comps {
        let passes = blocks.get(ci).or_decline()?.first_passes;
        let covered = passes & band.mask() == band.mask();
        let untouched = passes & band.mask() == 0;
        if (band.refine && !covered) || (!band.refine && !untouched) {
            return Err(Stop::Decline);
        }
    }
    let tables: Vec<(Option<&Huffman>, Option<&Huffman>)> = scan
        .comps
        .iter()
        .map(|&ci| {
            let c = &s.comps[ci];
            let dc = if ss == 0 && !band.refine { Some(s.dc[c.dc_table].as_ref()?) } else { None };
            let ac = if ss > 0 { Some(s.ac[c.ac_table].as_ref()?) } else { None };
            Some((dc, ac))
        })
        .collect::<Option<_>>()
        .or_decline()?;
    // A refinement's codes with their sign bits, looked up at once (the
    // scan has one component).
    let values = match tables.first() {
        Some((_, Some(ac))) if band.refine => ac.value_table(),
        _ => Vec::new(),
    };
    let mut pred = [0i32; 3];
    let mut eob_run = 0u32;
    let cost = ScanCost { block: cost::JPEG_PROGRESSIVE_VISIT, byte: cost::JPEG_DECODER_BYTE };
    let end = each_block(bytes, s, scan, work, cost, |bits, at| {
        if at.restarted {
            pred = [0; 3];
            eob_run = 0;
        }
        let (kept, mask) = blocks.get_mut(at.ci).or_decline()?.block(at.x, at.y).or_decline()?;
        let (dc, ac) = tables[at.k];
        let decoded = match (ss, band.refine) {
            (0, false) => dc_first(bits, dc.or_decline()?, &mut pred[at.k], band.al, kept, mask),
            (0, true) => dc_refine(bits, band.al, kept),
            (_, false) => ac_first(bits, ac.or_decline()?, &band, &mut eob_run, square, kept, mask),
            (_, true) => ac_refine(bits, (ac.or_decline()?, &values), &band, &mut eob_run, square, kept, mask),
        };
        decoded.or_decline()
    })?;
    for &ci in &scan.comps {
        if !band.refine {
            blocks[ci].first_passes |= band.mask();
        }
    }
    Ok(end)
}

/// A DC first pass: the difference added to `pred`, shifted by `al` into
/// an `i16` (jpeg-decoder's predictor is an `i16`; the same low bits).
fn dc_first(bits: &mut Bits, dc: &Huffman, pred: &mut i32, al: u32, kept: &mut [i16], mask: &mut u64) -> Option<()> {
    let t = u32::from(dc.decode(bits)?);
    if t > 11 {
        return None;
    }
    *pred = pred.wrapping_add(bits.extend(t));
    let value = pred.wrapping_shl(al) as i16;
    *kept.first_mut()? = value;
    set_nonzero(mask, 0, value != 0);
    Some(())
}

/// A DC refinement: one bit.
fn dc_refine(bits: &mut Bits, al: u32, kept: &mut [i16]) -> Option<()> {
    if bits.extend_raw(1) == 1 {
        *kept.first_mut()? |= 1 << al;
    }
    Some(())
}

fn set_nonzero(mask: &mut u64, k: usize, nonzero: bool) {
    if nonzero {
        *mask |= 1 << k;
    } else {
        *mask &= !(1 << k);
    }
}

/// An AC first pass over one block, as jpeg-decoder's `decode_block`:
/// codes, extra bits and end-of-band runs. A value is stored shifted by
/// `al` into an `i16`, as there (so it may wrap to zero).
pub(super) fn ac_first(
    bits: &mut Bits,
    ac: &Huffman,
    band: &Band,
    eob_run: &mut u32,
    square: &Square,
    kept: &mut [i16],
    mask: &mut u64,
) -> Option<()> {
    if *eob_run > 0 {
        *eob_run -= 1;
        return Some(());
    }
    let mut k = band.start;
    while k < band.end {
        let rs = ac.decode(bits)?;
        let (r, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        if size == 0 {
            if r == 15 {
                k += 16;
                continue;
            }
            *eob_run = (1 << r) - 1 + bits.extend_raw(r as u32);
            break;
        }
        k += r;
        if k >= band.end {
            break;
        }
        let value = (bits.extend(size) as i16).wrapping_shl(band.al);
        *kept.get_mut(usize::from(square.slots[k]))? = value;
        set_nonzero(mask, k, value != 0);
        k += 1;
    }
    Some(())
}

/// An AC refinement of one block, as jpeg-decoder's
/// `decode_block_successive_approximation`: a correction bit for each
/// non-zero coefficient of the band, new coefficients of ±1 (shifted)
/// among the zero ones. A kept coefficient that would overflow declines
/// (jpeg-decoder refuses it); the others' values are not known, so theirs
/// cannot be noticed. `values`: the table's codes with their sign bits
/// ([`Huffman::value_table`]), or empty.
pub(super) fn ac_refine(
    bits: &mut Bits,
    (ac, values): (&Huffman, &[Value]),
    band: &Band,
    eob_run: &mut u32,
    square: &Square,
    kept: &mut [i16],
    mask: &mut u64,
) -> Option<()> {
    let bit = 1i16 << band.al;
    if *eob_run > 0 {
        *eob_run -= 1;
        refine_non_zeroes(bits, band.start, band.end, 64, bit, square, kept, *mask)?;
        return Some(());
    }
    let mut k = band.start;
    while k < band.end {
        // A code and its sign bit in one lookup where they fit; an
        // end-of-band run longer than one block the slow way.
        bits.top_up();
        let e = values.get(bits.peek(SKIP_BITS) as usize).copied().unwrap_or_default();
        let (zero_run, value) = if !e.is_empty() {
            bits.consume(e.bits());
            // Only a new coefficient of ±1 is coded in a refinement.
            if e.value().unsigned_abs() > 1 {
                return None;
            }
            (e.run(), e.value() as i16 * bit)
        } else {
            let rs = ac.decode(bits)?;
            let (r, size) = (rs >> 4, rs & 15);
            match size {
                0 if r != 15 => {
                    *eob_run = (1 << r) - 1 + bits.extend_raw(u32::from(r));
                    (END_OF_BLOCK, 0)
                }
                0 => (15, 0),
                1 => (usize::from(r), if bits.extend_raw(1) == 1 { bit } else { -bit }),
                _ => return None,
            }
        };
        k = refine_non_zeroes(bits, k, band.end, zero_run, bit, square, kept, *mask)?;
        if value != 0 {
            *kept.get_mut(usize::from(square.slots[k]))? = value;
            *mask |= 1 << k;
        }
        k += 1;
    }
    Some(())
}

/// jpeg-decoder's `refine_non_zeroes`: from `start`, a correction bit for
/// each non-zero coefficient, passing `zero_run` zero ones; returns where
/// the next zero one (or the band's last coefficient) is. Worked on the
/// mask: the bits of all the non-zero coefficients passed are read at
/// once, and only the kept ones are looked at.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn refine_non_zeroes(
    bits: &mut Bits,
    start: usize,
    end: usize,
    zero_run: usize,
    bit: i16,
    square: &Square,
    kept: &mut [i16],
    mask: u64,
) -> Option<usize> {
    // Most calls pass no non-zero coefficient: the zero run ends where it
    // started counting, plus its length.
    let quick = start + zero_run;
    if quick < end && mask & positions(start, quick + 1) == 0 {
        return Some(quick);
    }
    let band = positions(start, end);
    let mut zeros = !mask & band;
    // The zero coefficient after `zero_run` others, if the band has it.
    let stop = if (zeros.count_ones() as usize) > zero_run {
        for _ in 0..zero_run {
            zeros &= zeros - 1;
        }
        Some(zeros.trailing_zeros() as usize)
    } else {
        None
    };
    let passed = mask & positions(start, stop.unwrap_or(end));
    // The bits come in zigzag order: those up to the last kept position
    // read at once, the rest skipped. Each kept coefficient finds its bit
    // by counting the passed ones before it, and takes it without a
    // branch (the bits are as good as random: a branch on each would be
    // mispredicted half the time).
    let low = passed & square.low;
    let high = (passed & !low).count_ones();
    let word = read_bits(bits, low.count_ones());
    let mut refined = low & square.kept;
    while refined != 0 {
        let k = refined.trailing_zeros();
        refined &= refined - 1;
        let before = (low & !(u64::MAX << k)).count_ones();
        let correction = ((word << before) >> 63) as i16;
        let c = kept.get_mut(usize::from(square.slots[k as usize]))?;
        // Away from zero, when the bit is not already set.
        let step = if *c > 0 { bit } else { -bit };
        let apply = correction & i16::from(*c & bit == 0);
        *c = c.checked_add(step * apply)?;
    }
    skip_bits(bits, high);
    Some(stop.unwrap_or(end - 1))
}

/// Zigzag positions `start..end` as a mask (`start` ≤ 63, `end` ≤ 64).
#[inline(always)]
fn positions(start: usize, end: usize) -> u64 {
    let below_end = u64::MAX.checked_shr(64 - end as u32).unwrap_or(0);
    below_end & (u64::MAX << start)
}

/// The next `count` bits (up to 64), the first on top.
#[inline(always)]
fn read_bits(bits: &mut Bits, count: u32) -> u64 {
    let (mut word, mut got) = (0u64, 0);
    while got < count {
        let take = (count - got).min(32);
        word |= u64::from(bits.extend_raw(take)) << (64 - got - take);
        got += take;
    }
    word
}

/// Skips `count` (up to 64) bits.
fn skip_bits(bits: &mut Bits, count: u32) {
    let mut left = count;
    while left > 0 {
        let take = left.min(32);
        bits.skip(take);
        left -= take;
    }
}

#[cfg(test)]
mod tests {
    use super::super::idct::UNZIGZAG;
    use super::*;

    #[test]
    fn slots_put_the_top_left_square_in_row_major_order_and_the_rest_in_the_spare() {
        for n in [2, 4] {
            let square = Square::new(n);
            for (k, &s) in square.slots.iter().enumerate() {
                let (row, col) = (UNZIGZAG[k] / 8, UNZIGZAG[k] % 8);
                let inside = row < n && col < n;
                let want = if inside { row * n + col } else { n * n };
                assert_eq!(usize::from(s), want, "zigzag {k} at {n}");
                assert_eq!(square.kept & (1 << k) != 0, inside, "zigzag {k} at {n}");
            }
            assert_eq!(square.kept.count_ones() as usize, n * n);
            assert_eq!(square.low, positions(0, super::super::idct::last_needed(n) + 1), "at {n}");
        }
        // Nothing kept: every position goes to slot 0.
        let none = Square::new(0);
        assert_eq!((none.kept, none.low), (0, 0));
        assert!(none.slots.iter().all(|&s| s == 0));
    }

    #[test]
    fn a_band_mask_covers_exactly_its_positions() {
        let band = |start, end| Band { start, end, refine: false, al: 0 }.mask();
        assert_eq!(band(0, 1), 1);
        assert_eq!(band(1, 6), 0b11_1110);
        assert_eq!(band(6, 64), u64::MAX << 6);
        assert_eq!(band(1, 64).count_ones(), 63);
        assert_eq!(band(0, 64), u64::MAX);
        assert_eq!(positions(0, 0), 0);
        assert_eq!(positions(5, 5), 0);
        assert_eq!(positions(63, 64), 1 << 63);
    }
}
