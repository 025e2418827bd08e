//! GIF's LZW, decoded straight from the file's data sub-blocks into the
//! caller's rows.
//!
//! The `gif` crate decodes through `weezl` one sub-block and one row at a
//! time; on a photo-like GIF, where a code stands for one or two pixels,
//! that spends most of the frame's time per code. Here the bits come from
//! a 64-bit buffer refilled across sub-block boundaries, and each table
//! entry keeps the first eight bytes of its string in one `u64`: a short
//! string (most of them) goes into the row as one 8-byte store, with no
//! walk through the prefix links, which only longer strings take for the
//! bytes past their first eight. A string that does not fit the rest of
//! the row goes into a small spill buffer.
//!
//! Only what GIF uses: least significant bit first, codes of
//! `min_code_size + 1` up to 12 bits, clear and end codes, a full table
//! kept ("deferred clear") until the next clear code.

/// The largest code, and so the table's size.
const MAX_CODES: usize = 4096;
const MAX_CODE_BITS: u32 = 12;

/// What went wrong in a frame's image data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzwError {
    /// The minimum code size is outside 1..=11.
    CodeSize(u8),
    /// A code that is neither in the table nor the next one to be added.
    InvalidCode(u16),
}

impl core::fmt::Display for LzwError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LzwError::CodeSize(n) => write!(f, "LZW minimum code size {n} is outside 1..=11"),
            LzwError::InvalidCode(c) => write!(f, "LZW code {c} is not in the table"),
        }
    }
}

/// A frame's image data being decoded.
pub struct Lzw<'a> {
    codes: Codes<'a>,
    min_code_size: u8,
    code_size: u32,
    clear: u16,
    next: u16,
    previous: Option<u16>,
    /// After the end code: nothing more is decoded.
    ended: bool,
    /// Per code, its string.
    table: Box<[Entry; MAX_CODES]>,
    /// A string that did not fit the row it was decoded into: the rest of
    /// it, `spill[spill_at..spill_end]`, starts the next row.
    spill: Box<[u8; MAX_CODES]>,
    spill_at: usize,
    spill_end: usize,
}

/// The codes of the data sub-blocks, least significant bit first. A plain
/// value: [`Lzw::fill`] works on a copy of it, which stays in registers
/// while the table is written, and puts it back when it returns.
#[derive(Clone, Copy)]
struct Codes<'a> {
    /// The file, and where the next sub-block byte is read.
    file: &'a [u8],
    at: usize,
    /// Bytes left in the current sub-block.
    block_left: usize,
    /// The data's end: a zero-length sub-block, or the end of the file.
    data_ended: bool,
    bits: u64,
    nbits: u32,
}

impl Codes<'_> {
    /// The next data byte, across sub-blocks; `None` at the data's end.
    #[inline]
    fn next_byte(&mut self) -> Option<u8> {
        if self.block_left == 0 {
            if self.data_ended {
                return None;
            }
            match self.file.get(self.at) {
                Some(&n) if n > 0 => {
                    self.block_left = usize::from(n);
                    self.at += 1;
                }
                _ => {
                    self.data_ended = true;
                    return None;
                }
            }
        }
        let byte = self.file.get(self.at).copied();
        match byte {
            Some(_) => {
                self.at += 1;
                self.block_left -= 1;
            }
            None => self.data_ended = true,
        }
        byte
    }

    /// The next code of `size` bits; `None` when the data ends first.
    #[inline(always)]
    fn next(&mut self, size: u32) -> Option<u16> {
        if self.nbits < size {
            self.refill();
            if self.nbits < size {
                return None;
            }
        }
        let code = (self.bits & ((1 << size) - 1)) as u16;
        self.bits >>= size;
        self.nbits -= size;
        Some(code)
    }

    #[inline]
    fn refill(&mut self) {
        // Most of the time: as many whole bytes as the buffer holds, in
        // one load from inside the current sub-block.
        if self.block_left >= 8 {
            if let Some(word) = self.file.get(self.at..self.at + 8) {
                let take = (63 - self.nbits) / 8;
                let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                self.bits |= (word & ((1 << (take * 8)) - 1)) << self.nbits;
                self.nbits += take * 8;
                self.at += take as usize;
                self.block_left -= take as usize;
            }
        }
        while self.nbits <= 56 {
            let Some(byte) = self.next_byte() else { break };
            self.bits |= u64::from(byte) << self.nbits;
            self.nbits += 8;
        }
    }
}

impl<'a> Lzw<'a> {
    /// Starts on the image data at `file[at..]`: the minimum code size,
    /// then the sub-blocks.
    pub fn new(file: &'a [u8], at: usize) -> Result<Self, LzwError> {
        let min_code_size = file.get(at).copied().unwrap_or(0);
        if !(1..=11).contains(&min_code_size) {
            return Err(LzwError::CodeSize(min_code_size));
        }
        let clear = 1u16 << min_code_size;
        let mut lzw = Lzw {
            codes: Codes { file, at: at + 1, block_left: 0, data_ended: false, bits: 0, nbits: 0 },
            min_code_size,
            code_size: u32::from(min_code_size) + 1,
            clear,
            next: clear + 2,
            previous: None,
            ended: false,
            table: Box::new([Entry::default(); MAX_CODES]),
            spill: Box::new([0; MAX_CODES]),
            spill_at: 0,
            spill_end: 0,
        };
        for (code, entry) in lzw.table[..usize::from(clear)].iter_mut().enumerate() {
            *entry = Entry { head: u64::from(code as u8), prefix: 0, len: 1, last: code as u8, first: code as u8 };
        }
        Ok(lzw)
    }

    /// Fills `out` with the next indices. `Ok(false)` when the data (or
    /// the end code) comes before `out` is full.
    pub fn fill(&mut self, out: &mut [u8]) -> Result<bool, LzwError> {
        let mut pos = 0;
        if self.spill_at < self.spill_end {
            let n = (self.spill_end - self.spill_at).min(out.len());
            out[..n].copy_from_slice(&self.spill[self.spill_at..self.spill_at + n]);
            self.spill_at += n;
            pos = n;
        }
        if self.ended {
            return Ok(pos == out.len());
        }
        // The decoder's state in locals for the loop, put back after it.
        let mut codes = self.codes;
        let (mut code_size, mut next, mut previous) = (self.code_size, self.next, self.previous);
        let (clear, reset_size) = (self.clear, u32::from(self.min_code_size) + 1);
        let table = &mut *self.table;
        // The previous code's entry, kept for the one it adds.
        let mut prev_entry = previous.map(|p| table[usize::from(p) & (MAX_CODES - 1)]).unwrap_or_default();
        let result = loop {
            if pos >= out.len() {
                break Ok(true);
            }
            let Some(code) = codes.next(code_size) else {
                self.ended = true;
                break Ok(false);
            };
            if code == clear {
                code_size = reset_size;
                next = clear + 2;
                previous = None;
                continue;
            }
            if code == clear + 1 {
                self.ended = true;
                break Ok(false);
            }
            // The string, and the table entry it adds: the previous string
            // and this one's first byte. The one code not yet in the table
            // is the entry about to be added, the previous string and its
            // own first byte.
            let entry = if code < next {
                table[usize::from(code) & (MAX_CODES - 1)]
            } else if code == next && usize::from(code) < MAX_CODES && previous.is_some() {
                prev_entry.extended(previous.unwrap_or_default(), prev_entry.first)
            } else {
                break Err(LzwError::InvalidCode(code));
            };
            if let Some(p) = previous.filter(|_| usize::from(next) < MAX_CODES) {
                table[usize::from(next) & (MAX_CODES - 1)] = prev_entry.extended(p, entry.first);
                next += 1;
                // `>=`: with a minimum code size of 1 the first free code
                // already needs the wider codes.
                if u32::from(next) >= 1 << code_size && code_size < MAX_CODE_BITS {
                    code_size += 1;
                }
            }
            (previous, prev_entry) = (Some(code), entry);
            let len = usize::from(entry.len);
            // `code` is in the table now, also when it was the next one.
            if len <= HEAD_BYTES && pos + HEAD_BYTES <= out.len() {
                // Most codes: the whole string in one store. The bytes
                // past it are the next strings' to overwrite, and the row
                // goes on past them.
                out[pos..pos + HEAD_BYTES].copy_from_slice(&entry.head.to_le_bytes());
                pos += len;
            } else if pos + len <= out.len() {
                write_string(table, code, &mut out[pos..pos + len]);
                pos += len;
            } else {
                write_string(table, code, &mut self.spill[..len]);
                let n = out.len() - pos;
                out[pos..].copy_from_slice(&self.spill[..n]);
                self.spill_at = n;
                self.spill_end = len;
                pos = out.len();
            }
        };
        self.codes = codes;
        (self.code_size, self.next, self.previous) = (code_size, next, previous);
        result
    }
}

/// Writes the string of `code` into `out`, whose length is the string's:
/// its first bytes from the entry's head, the rest from its end backwards
/// through the prefix links.
#[inline]
fn write_string(table: &[Entry; MAX_CODES], code: u16, out: &mut [u8]) {
    let head = table[usize::from(code) & (MAX_CODES - 1)].head.to_le_bytes();
    let (start, tail) = out.split_at_mut(out.len().min(HEAD_BYTES));
    start.copy_from_slice(&head[..start.len()]);
    let mut code = code;
    for byte in tail.iter_mut().rev() {
        let entry = table[usize::from(code) & (MAX_CODES - 1)];
        *byte = entry.last;
        code = entry.prefix;
    }
}

impl Entry {
    /// The entry of this string (code `code`) followed by `byte`: its head
    /// gains the byte while it has room.
    #[inline(always)]
    fn extended(self, code: u16, byte: u8) -> Entry {
        let head =
            if usize::from(self.len) < HEAD_BYTES { self.head | u64::from(byte) << (8 * self.len) } else { self.head };
        Entry { head, prefix: code, len: self.len + 1, last: byte, first: self.first }
    }
}

/// Bytes of a string an [`Entry`] holds itself.
const HEAD_BYTES: usize = 8;

/// A string in the table: its first [`HEAD_BYTES`] bytes (the first in
/// the lowest byte, zeros past a shorter string's end), the code of the
/// string without its last byte, its length, its last and first bytes.
#[derive(Clone, Copy, Default)]
struct Entry {
    head: u64,
    prefix: u16,
    len: u16,
    last: u8,
    first: u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::tests::{gif_sub_blocks, LsbBits};

    /// A pseudo-random stream of valid codes for `min_code_size`, as an
    /// encoder could write it: literals, codes already in the table, the
    /// next code (the string that repeats its own first byte), clear
    /// codes now and then or never (then the table fills and stays full),
    /// and the end code. Packed LSB first with the code size the decoder
    /// will be at, in `[min_code_size, sub-blocks..., 0]`.
    fn code_stream(min_code_size: u8, codes: usize, clear_every: Option<usize>, seed: u32) -> Vec<u8> {
        let clear = 1u32 << min_code_size;
        let mut rng = seed;
        let mut rand = move |n: u32| {
            rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (rng >> 8) % n
        };
        let mut bits = LsbBits::default();
        let (mut size, mut next, mut previous) = (u32::from(min_code_size) + 1, clear + 2, false);
        bits.put(clear, size);
        for i in 0..codes {
            if clear_every.is_some_and(|n| i % n == n - 1) {
                bits.put(clear, size);
                (size, next, previous) = (u32::from(min_code_size) + 1, clear + 2, false);
                continue;
            }
            let code = match (previous, rand(4)) {
                (true, 0) if next < 4096 => next,
                (true, 1) if next > clear + 2 => clear + 2 + rand(next - clear - 2),
                _ => rand(clear),
            };
            bits.put(code, size);
            if previous && next < 4096 {
                next += 1;
                if next >= 1 << size && size < 12 {
                    size += 1;
                }
            }
            previous = true;
        }
        bits.put(clear + 1, size);
        [vec![min_code_size], gif_sub_blocks(&bits.finish())].concat()
    }

    /// What `weezl` (the `gif` crate's LZW) decodes from the same data.
    fn weezl(data: &[u8]) -> Vec<u8> {
        let mut lzw = Vec::new();
        let mut at = 1;
        while data[at] != 0 {
            let n = usize::from(data[at]);
            lzw.extend_from_slice(&data[at + 1..at + 1 + n]);
            at += 1 + n;
        }
        let mut out = Vec::new();
        let mut decoder = weezl::decode::Decoder::new(weezl::BitOrder::Lsb, data[0]);
        let result = decoder.into_vec(&mut out).decode(&lzw);
        assert!(result.status.is_ok(), "weezl: {:?} min {}", result.status, data[0]);
        out
    }

    /// Every whole row of `row` indices it decodes (the last, partial
    /// one is left out).
    fn ours(data: &[u8], row: usize) -> Vec<u8> {
        let mut lzw = Lzw::new(data, 0).unwrap();
        let (mut out, mut buf) = (Vec::new(), vec![0; row]);
        while lzw.fill(&mut buf).unwrap() {
            out.extend_from_slice(&buf);
        }
        out
    }

    #[test]
    fn decodes_what_weezl_decodes() {
        for (min_code_size, clear_every) in
            [(2, None), (8, None), (8, Some(700)), (1, Some(50)), (4, None), (11, Some(3000))]
        {
            for seed in 0..4 {
                let data = code_stream(min_code_size, 9000, clear_every, seed);
                let expected = weezl(&data);
                assert!(expected.len() > 9000, "a stream that says something");
                for row in [1, 7, 480, 4096, 5000] {
                    let got = ours(&data, row);
                    let whole = expected.len() / row * row;
                    assert_eq!(got.len(), whole, "min {min_code_size} seed {seed} row {row}");
                    assert!(got == expected[..whole], "min {min_code_size} seed {seed} row {row}");
                }
            }
        }
    }

    #[test]
    fn stops_short_at_the_end_code_or_the_data_end() {
        let data = code_stream(8, 100, None, 1);
        let n = weezl(&data).len();
        let mut lzw = Lzw::new(&data, 0).unwrap();
        let mut all = vec![0; n + 1];
        assert_eq!(lzw.fill(&mut all), Ok(false), "the end code comes first");
        // Cut in the middle of the sub-blocks: the file simply ends.
        let cut = &data[..data.len() / 2];
        let mut lzw = Lzw::new(cut, 0).unwrap();
        assert_eq!(lzw.fill(&mut all), Ok(false));
        assert_eq!(Lzw::new(&data, data.len()).err(), Some(LzwError::CodeSize(0)));
        assert_eq!(Lzw::new(&[12], 0).err(), Some(LzwError::CodeSize(12)));
    }

    #[test]
    fn refuses_a_code_past_the_table() {
        // Clear, literal 1, then 300: the table holds 258 entries, the next
        // is 258, so 300 is nothing.
        let mut bits = 256u64 | 1 << 9 | 300 << 18;
        let mut packed = Vec::new();
        for _ in 0..4 {
            packed.push(bits as u8);
            bits >>= 8;
        }
        let data = [&[8u8, 4][..], &packed, &[0]].concat();
        let mut lzw = Lzw::new(&data, 0).unwrap();
        let mut out = [0u8; 4];
        assert_eq!(lzw.fill(&mut out), Err(LzwError::InvalidCode(300)));
    }
}
