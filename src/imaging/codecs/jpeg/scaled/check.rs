//! The check before jpeg-decoder: every scan entropy-decoded the way
//! jpeg-decoder will, keeping nothing but which coefficients are non-zero,
//! to prove that every scan's data covers its blocks.

use super::bits::Bits;
use super::huffman::Huffman;
use super::progressive::{ac_first, ac_refine, Band, Square};
use super::setup::{each_block, next_marker, Scan, ScanCost, Setup};
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
    let band = Band { start: usize::from(ss), end: usize::from(se) + 1, refine: ah != 0, al: u32::from(al) };
    // Nothing kept: the block readers follow only which coefficients are
    // non-zero.
    let nothing = Square::new(0);
    let mut scratch = [0i16; 1];
    let mut spare = 0u64; // the mask of a sequential block (never read)
    let mut eob_run = 0u32;
    let cost = ScanCost { block: cost::JPEG_DC_BLOCK, byte: cost::JPEG_ENTROPY_BYTE };
    each_block(bytes, s, scan, work, cost, |bits, at| {
        if at.restarted {
            eob_run = 0;
        }
        let mask = match nonzero.get_mut(at.ci) {
            Some(grid) => grid.get_mut(at.y * mcus_x * s.comps[at.ci].h + at.x).or_decline()?,
            None => &mut spare,
        };
        walk_block(bits, tables[at.k], &band, &mut eob_run, &nothing, &mut scratch, mask).or_decline()
    })
}

/// One block as jpeg-decoder's `decode_block` (first passes, sequential)
/// or `decode_block_successive_approximation` (refinements) reads it: the
/// same codes, extra bits, end-of-band runs and correction bits, through
/// the progressive decoder's block readers, keeping `nothing` (written to
/// `scratch`). `mask`: the block's non-zero coefficients, kept up to date.
/// `None`: a code or value jpeg-decoder refuses.
fn walk_block(
    bits: &mut Bits,
    (dc, ac): (Option<&Huffman>, Option<&Huffman>),
    band: &Band,
    eob_run: &mut u32,
    nothing: &Square,
    scratch: &mut [i16],
    mask: &mut u64,
) -> Option<()> {
    if !band.refine {
        if band.start == 0 {
            let t = u32::from(dc?.decode(bits)?);
            if t > 11 {
                return None;
            }
            bits.skip(t);
        }
        // A DC-only band has no AC coefficients (nor end-of-band runs).
        let ac_band = Band { start: band.start.max(1), ..*band };
        if ac_band.start < ac_band.end {
            ac_first(bits, ac?, &ac_band, eob_run, nothing, scratch, mask)?;
        }
    } else if band.start == 0 {
        bits.skip(1);
    } else {
        // No table of codes with their sign bits: every code the slow way.
        ac_refine(bits, (ac?, &[]), band, eob_run, nothing, scratch, mask)?;
    }
    Some(())
}
