//! The check before jpeg-decoder: every scan entropy-decoded the way
//! jpeg-decoder will, keeping nothing but which coefficients are non-zero,
//! to prove that every scan's data covers its blocks.

use super::bits::Bits;
use super::huffman::Huffman;
use super::setup::{next_marker, Scan, Setup};
use super::stop::{OrDecline, Stop};
use crate::imaging::work::{cost, Work};

/// Walks every scan of `bytes` (module docs); `Err(Stop::Decline)`: something
/// this walk does not follow, so nothing is proven.
pub(super) fn walk(bytes: &[u8], work: &Work) -> Result<(), Stop> {
    if bytes.get(0..2) != Some(&[0xFF, 0xD8]) {
        return Err(Stop::Decline);
    }
    let mut s = Setup::new();
    let mut scan = s.next_scan(bytes, 2).or_decline()?.or_decline()?;
    // Which of a block's 64 coefficients (zigzag order) are non-zero, per
    // component, over jpeg-decoder's MCU-padded block grid; only
    // progressive refinement scans need it.
    let (mcus_x, mcus_y) = s.mcu_grid();
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
    let (mcus_x, _) = s.mcu_grid();
    let single = scan.comps.len() == 1;
    let (units_x, units_y, per_unit) = s.scan_units(scan);
    let band = Band { start: ss, end: se + 1, ah, al };
    let mut spare = 0u64; // the mask of a sequential block (never read)
    let mut bits = Bits::new(bytes, scan.start, s.restart_interval);
    let mut eob_run = 0u32;
    let mut charged_to = scan.start;
    for uy in 0..units_y {
        let row = (units_x * per_unit) as u64;
        work.charge(row * cost::JPEG_DC_BLOCK + (bits.pos() - charged_to) as u64 * cost::JPEG_ENTROPY_BYTE)?;
        charged_to = bits.pos();
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
            let t = u32::from(dc?.decode(bits)?);
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
            let rs = ac?.decode(bits)?;
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
            let rs = ac?.decode(bits)?;
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
