//! Huffman tables as the DC-only decoder uses them: a canonical table
//! with a lookahead for short codes, and, for AC tables, lookups that step
//! over a whole code and its extra bits at once (the decode's whole cost
//! is these serial lookups, so each saved step counts).

use super::bits::{extend, Bits};

/// Bits looked ahead to decode a short code in one lookup.
const LOOKAHEAD: u32 = 9;
/// Bits of a [`Skip`] lookup: a code and its extra bits that fit.
pub(super) const SKIP_BITS: u32 = 11;
/// Bits of a [`Multi`] lookup: the whole codes (with their extra bits)
/// that fit. More bits make tables that no longer stay in cache and cost
/// more to build than they save.
pub(super) const MULTI_BITS: u32 = 14;

/// A canonical Huffman table (JPEG F.16).
pub(super) struct Huffman {
    /// For codes of at most [`LOOKAHEAD`] bits, indexed by the next bits.
    fast: [Fast; 1 << LOOKAHEAD],
    /// maxcode[l]: largest code of length l (left-aligned compare), per F.16.
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    symbols: Vec<u8>,
    /// For AC codes whose length plus extra bits fit [`SKIP_BITS`],
    /// indexed by the next bits.
    skip: Vec<Skip>,
}

/// A [`Huffman::fast`] entry: a code's length and symbol, packed
/// `length << 8 | symbol`; 0: a longer code.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
struct Fast(u16);

impl Fast {
    fn new(len: u32, symbol: u8) -> Fast {
        Fast(((len as u16) << 8) | u16::from(symbol))
    }
    #[inline(always)]
    fn is_long(self) -> bool {
        self.0 == 0
    }
    #[inline(always)]
    fn len(self) -> u32 {
        u32::from(self.0 >> 8)
    }
    #[inline(always)]
    fn symbol(self) -> u8 {
        self.0 as u8
    }
}

/// What an AC code (with its extra bits) does to the coefficient index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// A coefficient after a run of zeros: advance by the run and one.
    Coefficient,
    /// End of block.
    EndOfBlock,
    /// Sixteen zeros (ZRL).
    SixteenZeros,
}

/// A [`Huffman::skip`] entry, packed `total bits | (run + 1) << 5 |
/// kind << 10` (kind 0: a coefficient, 1: end of block, 2: sixteen zeros);
/// 0: not in one step.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub(super) struct Skip(u16);

const SKIP_EOB: u16 = 1 << 10;
const SKIP_ZRL: u16 = 2 << 10;
const SKIP_KIND: u16 = 3 << 10;

impl Skip {
    fn new(total_bits: u32, run: u8, step: Step) -> Skip {
        let kind = match step {
            Step::Coefficient => 0,
            Step::EndOfBlock => SKIP_EOB,
            Step::SixteenZeros => SKIP_ZRL,
        };
        Skip(total_bits as u16 | (u16::from(run) + 1) << 5 | kind)
    }
    /// Not in one step: decode the code the slow way.
    #[inline(always)]
    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Bits of the code and its extra bits.
    #[inline(always)]
    pub(super) fn bits(self) -> u32 {
        u32::from(self.0 & 31)
    }
    /// For a coefficient: how far the index moves (the zero run and one).
    #[inline(always)]
    pub(super) fn advance(self) -> usize {
        usize::from((self.0 >> 5) & 31)
    }
    #[inline(always)]
    pub(super) fn step(self) -> Step {
        match self.0 & SKIP_KIND {
            0 => Step::Coefficient,
            SKIP_EOB => Step::EndOfBlock,
            _ => Step::SixteenZeros,
        }
    }
}

/// A [`Huffman::multi_table`] entry: the whole AC codes (with their extra
/// bits) that the next [`MULTI_BITS`] bits start with, packed `total bits
/// | advance << 4 | ends_block << 11`; 0: not even one fits. Two bytes, so
/// that the table stays in the first-level cache: the lookup is on the
/// decode's critical path.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub(super) struct Multi(u16);

const MULTI_EOB: u16 = 1 << 11;
/// The most an entry advances (a block has 63 AC coefficients).
const MULTI_MAX_ADVANCE: u32 = 64;
// The packing's fields: bits in 4 bits, the advance in the 7 below the
// end-of-block flag.
const _: () = assert!(MULTI_BITS < 1 << 4 && MULTI_MAX_ADVANCE < 1 << 7 && MULTI_EOB == 1 << (4 + 7));

impl Multi {
    fn new(total_bits: u32, advance: u32, ends_block: bool) -> Multi {
        debug_assert!(total_bits <= MULTI_BITS && advance <= MULTI_MAX_ADVANCE);
        Multi(total_bits as u16 | (advance as u16) << 4 | if ends_block { MULTI_EOB } else { 0 })
    }
    #[inline(always)]
    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Bits of the codes and their extra bits.
    #[inline(always)]
    pub(super) fn bits(self) -> u32 {
        u32::from(self.0 & 15)
    }
    /// How far the coefficient index moves.
    #[inline(always)]
    pub(super) fn advance(self) -> usize {
        usize::from((self.0 >> 4) & 127)
    }
    /// The last code is an end of block.
    #[inline(always)]
    pub(super) fn ends_block(self) -> bool {
        self.0 & MULTI_EOB != 0
    }
}

/// A [`Huffman::value_table`] entry: one AC code with its extra bits read
/// as the coefficient they encode, packed `total bits | run << 5 | value
/// << 16`: a coefficient after `run` zeros; sixteen zeros (ZRL) as a zero
/// after fifteen; an end of block as a run of [`END_OF_BLOCK`], which
/// takes any position past the block. 0: not in one step.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub(super) struct Value(u32);

/// The run of an end of block in a [`Value`].
pub(super) const END_OF_BLOCK: usize = 64;

impl Value {
    #[inline(always)]
    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Bits of the code and its extra bits.
    #[inline(always)]
    pub(super) fn bits(self) -> u32 {
        self.0 & 31
    }
    /// The zeros before the coefficient ([`END_OF_BLOCK`]: none follows).
    #[inline(always)]
    pub(super) fn run(self) -> usize {
        ((self.0 >> 5) & 127) as usize
    }
    #[inline(always)]
    pub(super) fn value(self) -> i32 {
        i32::from((self.0 >> 16) as i16)
    }
}

impl Huffman {
    /// The table of a DHT's `counts` (codes per length) and `symbols`;
    /// `None` for a table no decoder can use.
    pub(super) fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Huffman> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total == 0 || total > 256 || symbols.len() != total {
            return None;
        }
        let mut t = Huffman {
            fast: [Fast::default(); 1 << LOOKAHEAD],
            maxcode: [-1; 18],
            valptr: [0; 17],
            mincode: [0; 17],
            symbols: symbols.to_vec(),
            skip: vec![Skip::default(); 1 << SKIP_BITS],
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
                    // An end-of-band run (r > 0, s = 0) is a progressive
                    // code: in a sequential scan it is left to the slow path.
                    let step = match (sym >> 4, sym & 15) {
                        (15, 0) => Some(Step::SixteenZeros),
                        (0, 0) => Some(Step::EndOfBlock),
                        (_, 0) => None,
                        _ => Some(Step::Coefficient),
                    };
                    if let (true, Some(step)) = (total <= SKIP_BITS, step) {
                        let entry = Skip::new(total, sym >> 4, step);
                        // Every index whose top `len` bits are this code.
                        let shift = SKIP_BITS - len as u32;
                        for fill in 0..(1usize << shift) {
                            *t.skip.get_mut(((c as usize) << shift) | fill)? = entry;
                        }
                    }
                    if len as u32 <= LOOKAHEAD {
                        let shift = LOOKAHEAD - len as u32;
                        for fill in 0..(1usize << shift) {
                            let idx = ((c as usize) << shift) | fill;
                            *t.fast.get_mut(idx)? = Fast::new(len as u32, sym);
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

    /// The next symbol; `None` for a code not in the table.
    #[inline(always)]
    pub(super) fn decode(&self, bits: &mut Bits) -> Option<u8> {
        bits.top_up();
        let e = self.fast[bits.peek(LOOKAHEAD) as usize];
        if !e.is_long() {
            bits.consume(e.len());
            return Some(e.symbol());
        }
        // Longer code: compare against maxcode per length (F.16).
        let mut len = LOOKAHEAD as usize + 1;
        let mut code = bits.peek(len as u32) as i32;
        while len <= 16 && code > self.maxcode[len] {
            len += 1;
            code = bits.peek(len as u32) as i32;
        }
        if len > 16 {
            return None;
        }
        bits.consume(len as u32);
        let idx = self.valptr[len] + code - self.mincode[len];
        self.symbols.get(usize::try_from(idx).ok()?).copied()
    }

    /// The one-step entry for the next [`SKIP_BITS`] bits.
    #[inline(always)]
    pub(super) fn skip(&self, bits: &Bits) -> Skip {
        self.skip[bits.peek(SKIP_BITS) as usize]
    }

    /// One AC code and its coefficient in one lookup, for the next
    /// [`SKIP_BITS`] bits; built for the AC tables of a sequential scan
    /// decoded at 1/4 or 1/2 scale.
    pub(super) fn value_table(&self) -> Vec<Value> {
        (0..1u32 << SKIP_BITS)
            .map(|idx| {
                let e = self.skip[idx as usize];
                if e.is_empty() {
                    return Value::default();
                }
                let (run, value) = match e.step() {
                    Step::Coefficient => {
                        // The extra bits follow the code within the index.
                        let size = self.code_size(idx);
                        let extra = e.bits() - size;
                        let raw = (idx >> (SKIP_BITS - e.bits())) & ((1 << extra) - 1);
                        (e.advance() - 1, extend(raw, extra))
                    }
                    Step::SixteenZeros => (15, 0),
                    Step::EndOfBlock => (END_OF_BLOCK, 0),
                };
                Value(e.bits() | (run as u32) << 5 | u32::from(value as u16) << 16)
            })
            .collect()
    }

    /// The length of the code the [`SKIP_BITS`] bits `idx` start with
    /// (one that is in the skip table).
    fn code_size(&self, idx: u32) -> u32 {
        let top = idx >> (SKIP_BITS - LOOKAHEAD);
        let e = self.fast[top as usize];
        if !e.is_long() {
            return e.len();
        }
        (LOOKAHEAD + 1..=SKIP_BITS)
            .find(|&len| (idx >> (SKIP_BITS - len)) as i32 <= self.maxcode[len as usize])
            .unwrap_or(SKIP_BITS)
    }

    /// Several AC codes stepped over in one lookup, for the next
    /// [`MULTI_BITS`] bits: most lookups at phone qualities step over two
    /// or more coefficients. Built only for the AC tables a sequential
    /// scan uses (progressive AC scans are not decoded).
    pub(super) fn multi_table(&self) -> Vec<Multi> {
        (0..1u64 << MULTI_BITS).map(|idx| multi_entry(&self.skip, idx)).collect()
    }
}

/// The [`Huffman::multi_table`] entry for the [`MULTI_BITS`] bits `idx`:
/// walks the single-code `skip` table while whole codes (and their extra
/// bits) fit.
fn multi_entry(skip: &[Skip], idx: u64) -> Multi {
    let bits = idx << (64 - MULTI_BITS);
    let (mut used, mut advance) = (0u32, 0u32);
    while used < MULTI_BITS {
        let e = skip.get(((bits << used) >> (64 - SKIP_BITS)) as usize).copied().unwrap_or_default();
        let total = e.bits();
        if e.is_empty() || used + total > MULTI_BITS {
            break;
        }
        let step = match e.step() {
            Step::Coefficient => e.advance() as u32,
            Step::EndOfBlock => return Multi::new(used + total, advance, true),
            Step::SixteenZeros => 16,
        };
        // Past a block's end an entry is never taken whole anyway.
        if advance + step > MULTI_MAX_ADVANCE {
            break;
        }
        used += total;
        advance += step;
    }
    Multi::new(used, advance, false)
}

/// Reads past a sequential block's AC codes from zigzag position `k` to
/// the block's end, nothing kept. `None`: a code not in the table, an
/// end-of-band run (a progressive code), or a block past 64 coefficients.
#[inline(always)]
pub(super) fn read_past_ac(bits: &mut Bits, ac_t: &Huffman, multi: &[Multi], mut k: usize) -> Option<()> {
    while k < 64 {
        bits.top_up();
        // Several codes at once, unless they might reach past this block
        // (a block also ends after coefficient 63 without an EOB, and the
        // bits after that are the next block's DC code).
        let m = multi[bits.peek(MULTI_BITS) as usize];
        let advance = m.advance();
        if !m.is_empty() && k + advance < 64 {
            bits.consume(m.bits());
            k += advance;
            if m.ends_block() {
                return Some(());
            }
            continue;
        }
        let e = ac_t.skip(bits);
        if !e.is_empty() {
            bits.consume(e.bits());
            match e.step() {
                Step::Coefficient => k += e.advance(),
                Step::EndOfBlock => return Some(()),
                Step::SixteenZeros => k += 16,
            }
            continue;
        }
        let rs = ac_t.decode(bits)?;
        let (r, size) = (usize::from(rs >> 4), u32::from(rs & 15));
        match (r, size) {
            (0, 0) => return Some(()),
            (15, 0) => k += 16,
            (_, 0) => return None,
            _ => {
                k += r + 1;
                bits.skip(size);
            }
        }
    }
    (k == 64).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_entries_keep_every_field_they_pack() {
        // An advance of exactly 64 (four runs of sixteen zeros) must read
        // back as 64, so that it is never taken as fitting in a block.
        for total_bits in 0..=MULTI_BITS {
            for advance in 0..=MULTI_MAX_ADVANCE {
                for ends_block in [false, true] {
                    let m = Multi::new(total_bits, advance, ends_block);
                    assert_eq!(
                        (m.bits(), m.advance(), m.ends_block()),
                        (total_bits, advance as usize, ends_block),
                        "{total_bits} bits, advance {advance}, end {ends_block}"
                    );
                }
            }
        }
    }
}
