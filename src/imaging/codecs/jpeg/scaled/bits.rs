//! The bit reader over a scan's entropy-coded data.

use super::stop::{OrDecline, Stop};

/// Big-endian bit reader over entropy-coded data: skips stuffed zero bytes,
/// stops at a marker and then feeds zero bits (as libjpeg does), counting
/// them: a decode that consumes one of those has run out of data
/// ([`Bits::overrun`]).
pub(super) struct Bits<'a> {
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
    pub(super) fn new(data: &'a [u8], pos: usize, restart_interval: usize) -> Self {
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
    pub(super) fn next_mcu(&mut self) -> Result<bool, Stop> {
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
    pub(super) fn finish(&self) -> Result<usize, Stop> {
        if self.overrun() || self.eof {
            return Err(Stop::Truncated);
        }
        Ok(self.pos)
    }

    /// Bytes of the data read so far (where reading stands).
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Refills the accumulator when it holds fewer than 32 bits (every
    /// read below takes at most that many).
    #[inline(always)]
    pub(super) fn top_up(&mut self) {
        if self.n < 32 {
            self.refill();
        }
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
    pub(super) fn peek(&self, k: u32) -> u32 {
        (self.acc >> (64 - k)) as u32
    }

    #[inline(always)]
    pub(super) fn consume(&mut self, k: u32) {
        self.acc <<= k;
        self.n -= k;
    }

    /// `s` raw bits as the signed value they encode (F.12 EXTEND).
    #[inline(always)]
    pub(super) fn extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        self.top_up();
        let v = self.peek(s);
        self.consume(s);
        extend(v, s)
    }

    /// `s` raw bits as an unsigned number.
    #[inline(always)]
    pub(super) fn extend_raw(&mut self, s: u32) -> u32 {
        if s == 0 {
            return 0;
        }
        self.top_up();
        let v = self.peek(s);
        self.consume(s);
        v
    }

    #[inline(always)]
    pub(super) fn skip(&mut self, s: u32) {
        if s == 0 {
            return;
        }
        self.top_up();
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

/// `s` (1 to 16) raw bits as the signed value they encode (F.12 EXTEND).
#[inline(always)]
pub(super) fn extend(raw: u32, s: u32) -> i32 {
    let v = raw as i32;
    if v < (1 << (s - 1)) {
        v - (1 << s) + 1
    } else {
        v
    }
}
