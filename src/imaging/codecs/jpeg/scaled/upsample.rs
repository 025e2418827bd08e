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

    /// Samples in a stretched row: at least the output width (a wide
    /// plane's last sample may stretch past it).
    pub(super) fn stretched_width(&self) -> usize {
        if self.wide {
            2 * self.width
        } else {
            self.width
        }
    }

    /// Output row `y` into `out[..self.stretched_width()]`.
    pub(super) fn stretch_row(&self, y: usize, out: &mut [u8]) {
        let (near, far) = self.source_rows(y);
        let (near, far) = (self.row(near), self.row(far));
        let out = &mut out[..self.stretched_width()];
        match (self.wide, self.tall) {
            (false, false) => out.copy_from_slice(near),
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

/// 2× across (`out` twice `input`'s length): each sample ¾ itself and ¼
/// its neighbour on that side; the ends are the edge samples.
fn wide_row(input: &[u8], out: &mut [u8]) {
    let n = input.len();
    out[0] = input[0];
    out[2 * n - 1] = input[n - 1];
    for (pair, w) in out[1..2 * n - 1].chunks_exact_mut(2).zip(input.windows(2)) {
        let (a, b) = (u32::from(w[0]), u32::from(w[1]));
        pair[0] = ((3 * a + b + 2) >> 2) as u8;
        pair[1] = ((3 * b + a + 2) >> 2) as u8;
    }
}

/// 2× across and down (`out` twice the rows' length): the rows mixed
/// ¾ : ¼, then across ¾ : ¼, rounded once.
fn wide_tall_row(near: &[u8], far: &[u8], out: &mut [u8]) {
    let n = near.len();
    let col = |i: usize| 3 * u32::from(near[i]) + u32::from(far[i]);
    out[0] = ((col(0) + 2) >> 2) as u8;
    out[2 * n - 1] = ((col(n - 1) + 2) >> 2) as u8;
    let cols = near.windows(2).zip(far.windows(2));
    for (pair, (n2, f2)) in out[1..2 * n - 1].chunks_exact_mut(2).zip(cols) {
        let a = 3 * u32::from(n2[0]) + u32::from(f2[0]);
        let b = 3 * u32::from(n2[1]) + u32::from(f2[1]);
        pair[0] = ((3 * a + b + 8) >> 4) as u8;
        pair[1] = ((3 * b + a + 8) >> 4) as u8;
    }
}
