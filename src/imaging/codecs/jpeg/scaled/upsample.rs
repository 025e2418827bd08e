//! A component's decoded plane and its rows stretched to the output grid:
//! jpeg-decoder's (and libjpeg's) "fancy" upsampling, a triangle filter
//! that puts each chroma sample between the luma samples it covers, with
//! the same rounding, so that both decoders give the same samples.

/// One component's samples at the decoded scale.
pub(super) struct Plane {
    pub(super) samples: Vec<u8>,
    /// Samples per stored row (the MCU-padded block grid's width).
    pub(super) stride: usize,
    /// The component's own size at the decoded scale.
    pub(super) width: usize,
    pub(super) height: usize,
    /// Stretched 2× across / down (half the largest sampling factor).
    pub(super) wide: bool,
    pub(super) tall: bool,
}

impl Plane {
    /// A plane of `grid` blocks (across, down) of `n`×`n` samples, for a
    /// component of `width`×`height` samples; `wide`/`tall` as jpeg-decoder
    /// chooses them (never for an output one sample across / down).
    pub(super) fn new(grid: (usize, usize), n: usize, size: (usize, usize), stretch: (bool, bool)) -> Plane {
        let stride = grid.0 * n;
        Plane {
            samples: vec![0; stride * grid.1 * n],
            stride,
            width: size.0,
            height: size.1,
            wide: stretch.0,
            tall: stretch.1,
        }
    }

    fn row(&self, r: usize) -> &[u8] {
        &self.samples[r * self.stride..][..self.width]
    }

    /// The plane rows output row `y` is made of: the nearer and the farther.
    pub(super) fn source_rows(&self, y: usize) -> (usize, usize) {
        if !self.tall {
            return (y, y);
        }
        let near = y / 2;
        let far = if y.is_multiple_of(2) { near.saturating_sub(1) } else { (near + 1).min(self.height - 1) };
        (near, far)
    }

    /// Output row `y`, `out.len()` samples (at most the output width).
    pub(super) fn stretch_row(&self, y: usize, out: &mut [u8]) {
        let (near, far) = self.source_rows(y);
        let (near, far) = (self.row(near), self.row(far));
        match (self.wide, self.tall) {
            (false, false) => out.copy_from_slice(&near[..out.len()]),
            (false, true) => {
                for ((o, &a), &b) in out.iter_mut().zip(near).zip(far) {
                    *o = ((3 * u32::from(a) + u32::from(b) + 2) >> 2) as u8;
                }
            }
            (true, false) => wide_row(near, out),
            (true, true) => wide_tall_row(near, far, out),
        }
    }
}

/// 2× across: each sample ¾ itself and ¼ its neighbour on that side.
fn wide_row(input: &[u8], out: &mut [u8]) {
    let n = input.len();
    let at = |i: usize| u32::from(input[i]);
    let len = out.len();
    let mut put = |i: usize, v: u32| {
        if i < len {
            out[i] = v as u8;
        }
    };
    if n == 1 {
        put(0, at(0));
        put(1, at(0));
        return;
    }
    put(0, at(0));
    put(1, (at(0) * 3 + at(1) + 2) >> 2);
    for i in 1..n - 1 {
        let s = 3 * at(i) + 2;
        put(2 * i, (s + at(i - 1)) >> 2);
        put(2 * i + 1, (s + at(i + 1)) >> 2);
    }
    put(2 * n - 2, (at(n - 1) * 3 + at(n - 2) + 2) >> 2);
    put(2 * n - 1, at(n - 1));
}

/// 2× across and down: the rows mixed ¾ : ¼, then across ¾ : ¼, rounded
/// once.
fn wide_tall_row(near: &[u8], far: &[u8], out: &mut [u8]) {
    let n = near.len();
    let col = |i: usize| 3 * u32::from(near[i]) + u32::from(far[i]);
    let len = out.len();
    let mut put = |i: usize, v: u32| {
        if i < len {
            out[i] = v as u8;
        }
    };
    if n == 1 {
        let v = (col(0) + 2) >> 2;
        put(0, v);
        put(1, v);
        return;
    }
    let mut t1 = col(0);
    put(0, (t1 + 2) >> 2);
    for i in 1..n {
        let t0 = t1;
        t1 = col(i);
        put(2 * i - 1, (3 * t0 + t1 + 8) >> 4);
        put(2 * i, (3 * t1 + t0 + 8) >> 4);
    }
    put(2 * n - 1, (t1 + 2) >> 2);
}
