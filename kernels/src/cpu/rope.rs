//! Rotary position embedding applied in place to `[n_heads, hd]` vectors (q or k).
//!
//! Frequencies follow HF exactly in f32: inv_freq[i] = 1 / theta^((2i as f32) / (rot_dim as f32)),
//! angle = (pos as f32) · inv_freq[i] (one f32 product), cos/sin in f32. Only the first
//! `rot_dim` dims of each head rotate (partial rotary); the rest pass through.

/// Which dims form a rotation pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeMode {
    /// HF `rotate_half` / GPT-NeoX: pairs (i, i + rot_dim/2).
    Neox,
    /// GPT-J / llama.cpp "normal": adjacent pairs (2i, 2i+1).
    Normal,
}

/// HF's inverse frequency of pair `i`: `1.0 / (base ** (arange(0, dim, 2).float() / dim))`.
/// The exponent is an f32 quotient; torch's f32 `pow` is correctly rounded here, which an f64
/// pow rounded to f32 reproduces (platform `powf`s are not all correctly rounded); then an
/// f32 division. Bit-exact with torch for the dims tested.
#[inline]
pub fn rope_inv_freq(i: usize, rot_dim: usize, theta: f32) -> f32 {
    let e = (2 * i) as f32 / rot_dim as f32;
    1.0 / (theta as f64).powf(e as f64) as f32
}

/// Precomputed inverse frequencies (built once at load; applying never allocates).
#[derive(Clone, Debug, PartialEq)]
pub struct RopeTable {
    inv_freq: Vec<f32>,
    rot_dim: usize,
    mode: RopeMode,
}

impl RopeTable {
    /// `rot_dim` must be even and non-zero.
    pub fn new(rot_dim: usize, theta: f32, mode: RopeMode) -> Self {
        assert!(
            rot_dim > 0 && rot_dim % 2 == 0,
            "rope: rot_dim {rot_dim} must be even"
        );
        let inv_freq = (0..rot_dim / 2)
            .map(|i| rope_inv_freq(i, rot_dim, theta))
            .collect();
        RopeTable {
            inv_freq,
            rot_dim,
            mode,
        }
    }

    pub fn rot_dim(&self) -> usize {
        self.rot_dim
    }

    pub fn mode(&self) -> RopeMode {
        self.mode
    }

    pub fn inv_freq(&self) -> &[f32] {
        &self.inv_freq
    }

    /// Rotate `x` (`[n_heads, hd]`, `hd >= rot_dim`) for position `pos`.
    pub fn apply(&self, x: &mut [f32], n_heads: usize, hd: usize, pos: u32) {
        check(x, n_heads, hd, self.rot_dim);
        for (i, &f) in self.inv_freq.iter().enumerate() {
            rotate_pair(x, n_heads, hd, self.rot_dim, self.mode, i, pos as f32 * f);
        }
    }
}

/// Table-free [`RopeTable::apply`]: recomputes each inv_freq (same values bit for bit).
pub fn rope_inplace(
    x: &mut [f32],
    n_heads: usize,
    hd: usize,
    rot_dim: usize,
    pos: u32,
    theta: f32,
    mode: RopeMode,
) {
    assert!(
        rot_dim > 0 && rot_dim % 2 == 0,
        "rope: rot_dim {rot_dim} must be even"
    );
    check(x, n_heads, hd, rot_dim);
    for i in 0..rot_dim / 2 {
        let angle = pos as f32 * rope_inv_freq(i, rot_dim, theta);
        rotate_pair(x, n_heads, hd, rot_dim, mode, i, angle);
    }
}

fn check(x: &[f32], n_heads: usize, hd: usize, rot_dim: usize) {
    assert_eq!(x.len(), n_heads * hd, "rope: x length");
    assert!(rot_dim <= hd, "rope: rot_dim {rot_dim} > head dim {hd}");
}

/// Rotate pair `i` of every head by `angle`: (a, b) ← (a·cos − b·sin, b·cos + a·sin).
#[inline]
fn rotate_pair(
    x: &mut [f32],
    n_heads: usize,
    hd: usize,
    rot_dim: usize,
    mode: RopeMode,
    i: usize,
    angle: f32,
) {
    let (sin, cos) = angle.sin_cos();
    let (ia, ib) = match mode {
        RopeMode::Neox => (i, i + rot_dim / 2),
        RopeMode::Normal => (2 * i, 2 * i + 1),
    };
    for h in 0..n_heads {
        let (a, b) = (x[h * hd + ia], x[h * hd + ib]);
        x[h * hd + ia] = a * cos - b * sin;
        x[h * hd + ib] = b * cos + a * sin;
    }
}
