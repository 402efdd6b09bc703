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
            rot_dim > 0 && rot_dim.is_multiple_of(2),
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
        rot_dim > 0 && rot_dim.is_multiple_of(2),
        "rope: rot_dim {rot_dim} must be even"
    );
    check(x, n_heads, hd, rot_dim);
    for i in 0..rot_dim / 2 {
        let angle = pos as f32 * rope_inv_freq(i, rot_dim, theta);
        rotate_pair(x, n_heads, hd, rot_dim, mode, i, angle);
    }
}

/// [`rope_inplace`] with the inverse frequencies given (`inv_freq[i]` =
/// [`rope_inv_freq`]`(i, rot_dim, theta)`, `rot_dim = 2 · inv_freq.len()`): the same result bit
/// for bit, without recomputing the `pow` per pair (prefill rotates many rows with one set).
pub fn rope_with_freqs(
    x: &mut [f32],
    n_heads: usize,
    hd: usize,
    inv_freq: &[f32],
    pos: u32,
    mode: RopeMode,
) {
    let rot_dim = 2 * inv_freq.len();
    assert!(rot_dim > 0, "rope: no frequencies");
    check(x, n_heads, hd, rot_dim);
    for (i, &f) in inv_freq.iter().enumerate() {
        rotate_pair(x, n_heads, hd, rot_dim, mode, i, pos as f32 * f);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, assert_close};

    #[test]
    fn with_freqs_equals_inplace_bit_for_bit() {
        let mut r = Rng::new(77);
        for (heads, hd, rot, mode) in [
            (3, 64, 64, RopeMode::Neox),
            (2, 48, 32, RopeMode::Normal),
            (4, 128, 128, RopeMode::Normal),
        ] {
            let f: Vec<f32> = (0..rot / 2)
                .map(|i| rope_inv_freq(i, rot, 10000.0))
                .collect();
            for pos in [0u32, 1, 17, 4095] {
                let x = r.normal_vec(heads * hd);
                let (mut a, mut b) = (x.clone(), x);
                rope_inplace(&mut a, heads, hd, rot, pos, 10000.0, mode);
                rope_with_freqs(&mut b, heads, hd, &f, pos, mode);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "{heads}x{hd} rot {rot} pos {pos}");
            }
        }
    }

    /// Bits of HF's `inv_freq` (torch 2.15, f32) for theta 10000.
    #[test]
    fn inv_freq_is_bit_exact_with_torch() {
        let t64 = RopeTable::new(64, 10000.0, RopeMode::Neox);
        let want64: [u32; 8] = [
            0x3f800000, 0x3f3ff911, 0x3f0ff59a, 0x3ed7e89b, 0x3ea1e89b, 0x3e72d423, 0x3e361887,
            0x3e088d77,
        ];
        let got: Vec<u32> = t64.inv_freq()[..8].iter().map(|f| f.to_bits()).collect();
        assert_eq!(got, want64);
        let tail: Vec<u32> = t64.inv_freq()[28..].iter().map(|f| f.to_bits()).collect();
        assert_eq!(tail, [0x39a5cb60, 0x3978a815, 0x393a7753, 0x390bd472]);
        let t128 = RopeTable::new(128, 10000.0, RopeMode::Neox);
        let got: Vec<u32> = [1, 7, 13, 40, 63]
            .map(|i| t128.inv_freq()[i].to_bits())
            .to_vec();
        assert_eq!(
            got,
            [0x3f5dafd7, 0x3ebaf81b, 0x3e1db040, 0x3b4f3e38, 0x38f22ce2]
        );
    }

    /// HF `apply_rotary_pos_emb` (rotate_half) in torch f32: 2 heads × hd 8,
    /// q[i] = 0.37·i − 2.
    #[test]
    #[allow(clippy::excessive_precision)]
    fn neox_matches_hf_torch() {
        let q0: Vec<f32> = (0..16).map(|i| i as f32 * 0.37 - 2.0).collect();
        let cases: [(u32, [f32; 16]); 2] = [
            (
                7,
                [
                    -1.1661715507507324,
                    -1.1500601768493652,
                    -1.2723016738891602,
                    -0.8941081166267395,
                    -1.7060023546218872,
                    -1.1648011207580566,
                    0.13133326172828674,
                    0.5837557911872864,
                    -0.8793011903762817,
                    -0.7930115461349487,
                    1.4734184741973877,
                    2.0450994968414307,
                    2.470228672027588,
                    3.0060160160064697,
                    3.2911155223846436,
                    3.5644030570983887,
                ],
            ),
            (
                1000,
                [
                    -0.6947807669639587,
                    -1.4815346002578735,
                    1.1769148111343384,
                    -0.977337121963501,
                    -1.94619619846344,
                    0.6960282325744629,
                    0.5008708834648132,
                    -0.43013066053390503,
                    -1.4777023792266846,
                    2.5697715282440186,
                    0.30356574058532715,
                    -1.8687959909439087,
                    2.1660094261169434,
                    1.7496497631072998,
                    -3.593083620071411,
                    3.6599183082580566,
                ],
            ),
        ];
        for (pos, want) in cases {
            let mut q = q0.clone();
            rope_inplace(&mut q, 2, 8, 8, pos, 10000.0, RopeMode::Neox);
            // Same angles bit for bit; sin/cos implementations may differ by an ulp.
            assert_close(&q, &want, 1e-6, 1e-6);
        }
    }

    #[test]
    fn table_and_free_function_agree_and_pos0_is_identity() {
        let mut r = Rng::new(41);
        let x = r.normal_vec(3 * 16);
        for mode in [RopeMode::Neox, RopeMode::Normal] {
            let table = RopeTable::new(12, 500000.0, mode);
            let (mut a, mut b) = (x.clone(), x.clone());
            table.apply(&mut a, 3, 16, 123);
            rope_inplace(&mut b, 3, 16, 12, 123, 500000.0, mode);
            assert_eq!(a, b);
            // Partial rotary: dims 12..16 of each head untouched.
            for h in 0..3 {
                assert_eq!(a[h * 16 + 12..h * 16 + 16], x[h * 16 + 12..h * 16 + 16]);
            }
            let mut c = x.clone();
            table.apply(&mut c, 3, 16, 0);
            assert_eq!(c, x);
        }
    }

    /// Normal mode rotates (2i, 2i+1); Neox rotates (i, i+d/2). Permuting the input maps one
    /// onto the other exactly.
    #[test]
    fn normal_mode_is_neox_on_interleaved_layout() {
        let mut r = Rng::new(42);
        let (hd, heads) = (8, 2);
        let x = r.normal_vec(heads * hd);
        let perm = |v: &[f32]| -> Vec<f32> {
            // neox index i ↔ normal index 2i, neox i+hd/2 ↔ normal 2i+1
            let mut out = vec![0.0; v.len()];
            for h in 0..heads {
                for i in 0..hd / 2 {
                    out[h * hd + 2 * i] = v[h * hd + i];
                    out[h * hd + 2 * i + 1] = v[h * hd + i + hd / 2];
                }
            }
            out
        };
        let mut neox = x.clone();
        rope_inplace(&mut neox, heads, hd, hd, 77, 10000.0, RopeMode::Neox);
        let mut normal = perm(&x);
        rope_inplace(&mut normal, heads, hd, hd, 77, 10000.0, RopeMode::Normal);
        assert_eq!(normal, perm(&neox));
    }

    #[test]
    fn rotation_matches_f64_and_preserves_pair_norms() {
        let mut r = Rng::new(43);
        let (hd, heads, pos) = (32, 2, 41u32);
        let x = r.normal_vec(heads * hd);
        let mut y = x.clone();
        rope_inplace(&mut y, heads, hd, hd, pos, 10000.0, RopeMode::Neox);
        for h in 0..heads {
            for i in 0..hd / 2 {
                let f = 10000f64.powf(-(2.0 * i as f64) / hd as f64) * pos as f64;
                let (a, b) = (x[h * hd + i] as f64, x[h * hd + i + hd / 2] as f64);
                let (ya, yb) = (y[h * hd + i] as f64, y[h * hd + i + hd / 2] as f64);
                // angle error ≤ pos·ulp(inv_freq) ≈ 41·6e-8 rad
                assert!((ya - (a * f.cos() - b * f.sin())).abs() < 1e-5);
                assert!((yb - (b * f.cos() + a * f.sin())).abs() < 1e-5);
                assert!(
                    ((ya * ya + yb * yb) - (a * a + b * b)).abs() < 1e-5 * (a * a + b * b + 1.0)
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "must be even")]
    fn odd_rot_dim_is_rejected() {
        RopeTable::new(7, 10000.0, RopeMode::Neox);
    }
}
