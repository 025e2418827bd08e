//! The DC-only decode of a frame's scans: a sequential scan's blocks
//! read past their AC coefficients, a progressive frame's DC scans, one
//! DC value per block, and the rows of 1/8-scale pixels they make.

use super::bits::Bits;
use super::colour::ycc_to_rgb;
use super::huffman::{read_past_ac, Huffman, Multi};
use super::setup::{each_block, next_marker, Component, Scan, ScanCost, Setup};
use super::stop::{OrDecline, Stop};
use super::Rows;
use crate::imaging::work::{cost, Work};

/// jpeg-decoder's 1×1 IDCT of a DC coefficient: (DC·q + 1024) / 8, clamped.
pub(super) fn dc_pixel(dc: i32, q: i32) -> u8 {
    (dc.wrapping_mul(q).wrapping_add(1024) / 8).clamp(0, 255) as u8
}

/// Huffman-decodes one block of a sequential scan: the DC difference is
/// added to `pred`, the AC coefficients are read past. `None`: a code not
/// in the tables.
#[inline(always)]
fn sequential_block(bits: &mut Bits, dc_t: &Huffman, ac_t: &Huffman, multi: &[Multi], pred: &mut i32) -> Option<()> {
    let t = u32::from(dc_t.decode(bits)?);
    if t > 11 {
        return None;
    }
    *pred = pred.wrapping_add(bits.extend(t));
    read_past_ac(bits, ac_t, multi, 1)
}

/// A sequential frame: its single scan with every component, decoded one
/// MCU row at a time; the rows go to the sink as soon as they exist. Each
/// MCU row is charged before it is decoded (its blocks, and the bytes the
/// previous one read).
pub(super) fn sequential<S: Rows>(bytes: &[u8], s: &Setup, scan: &Scan, work: &Work, mut sink: S) -> Result<S, Stop> {
    if scan.comps.len() != s.comps.len() || (scan.ss, scan.se, scan.ah, scan.al) != (0, 63, 0, 0) {
        return Err(Stop::Decline);
    }
    let (hmax, vmax) = s.max_factors();
    let (mcus_x, mcus_y) = s.mcu_grid();
    let (out_w, out_h) = (s.width.div_ceil(8), s.height.div_ceil(8));
    let comps = &s.comps;
    // One MCU row of DC pixels per component: (mcus_x·h) × v values.
    let mut planes: Vec<Vec<u8>> = comps.iter().map(|c| vec![0u8; mcus_x * c.h * c.v]).collect();
    let mut row = vec![0u8; out_w * comps.len()];
    let mut pred = [0i32; 3];
    let mut bits = Bits::new(bytes, scan.start, s.restart_interval);
    let mut multi: [Vec<Multi>; 4] = Default::default();
    for c in comps {
        if multi[c.ac_table].is_empty() {
            multi[c.ac_table] = s.ac[c.ac_table].as_ref().or_decline()?.multi_table();
        }
    }
    let tables: Vec<(&Huffman, &Huffman, &[Multi], i32)> = comps
        .iter()
        .map(|c| {
            Some((s.dc[c.dc_table].as_ref()?, s.ac[c.ac_table].as_ref()?, &multi[c.ac_table][..], s.quant_dc[c.quant]))
        })
        .collect::<Option<_>>()
        .or_decline()?;
    let row_blocks = (mcus_x * comps.iter().map(|c| c.h * c.v).sum::<usize>()) as u64;
    let mut charged_to = scan.start;

    for mcu_y in 0..mcus_y {
        work.charge(row_blocks * cost::JPEG_DC_BLOCK + (bits.pos() - charged_to) as u64 * cost::JPEG_ENTROPY_BYTE)?;
        charged_to = bits.pos();
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
pub(super) fn progressive<S: Rows>(
    bytes: &[u8],
    mut s: Setup,
    first: Scan,
    work: &Work,
    mut sink: S,
) -> Result<S, Stop> {
    let (hmax, vmax) = s.max_factors();
    let (mcus_x, mcus_y) = s.mcu_grid();
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
    let mut pred = [0i32; 3];
    let al = u32::from(scan.al);
    let tables: Vec<Option<&Huffman>> = scan.comps.iter().map(|&ci| s.dc[s.comps[ci].dc_table].as_ref()).collect();
    if !refine && tables.iter().any(Option::is_none) {
        return Err(Stop::Decline);
    }
    let cost = ScanCost { block: cost::JPEG_DC_BLOCK, byte: cost::JPEG_ENTROPY_BYTE };
    let end = each_block(bytes, s, scan, work, cost, |bits, at| {
        if at.restarted {
            pred = [0; 3];
        }
        let (gw, _) = grid[at.ci];
        let slot = coef.get_mut(at.ci).or_decline()?.get_mut(at.y * gw + at.x).or_decline()?;
        if refine {
            bits.top_up();
            if bits.peek(1) == 1 {
                *slot |= 1 << al;
            }
            bits.consume(1);
        } else {
            let t = u32::from(tables[at.k].or_decline()?.decode(bits).or_decline()?);
            if t > 11 {
                return Err(Stop::Decline);
            }
            pred[at.k] = pred[at.k].wrapping_add(bits.extend(t));
            *slot = (pred[at.k] << al) as i16;
        }
        Ok(())
    })?;
    for &ci in &scan.comps {
        dc_done[ci] = true;
    }
    Ok(end)
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
        let (y, cb, cr) = (*lines[0].get(x / ys)?, *lines[1].get(x / cbs)?, *lines[2].get(x / crs)?);
        px.copy_from_slice(&ycc_to_rgb(y, cb, cr));
    }
    Some(())
}
