//! The one f32 dot product every matvec path uses, so that all paths (matvec, matvec_rows,
//! matmul, future SIMD variants) sum in the same order and give bit-identical results.
//!
//! Order: a row is split into chunks of [`CHUNK`] elements (the last may be shorter); each
//! chunk's dot is summed in 8 lanes (lane i%8 takes element i, in increasing i) reduced as
//! ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)); chunk dots are then added left to right into the row sum.

/// Elements per partial dot. 32 divides every block size weft computes with (32, 256).
pub const CHUNK: usize = 32;

/// Lane-split dot product of one chunk (any length; `a.len() == b.len()` is debug-checked).
#[inline]
pub fn dot_chunk(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut l = [0.0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            l[k] += x[k] * y[k];
        }
    }
    for (k, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        l[k] += x * y;
    }
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

/// Dot of two f32 slices in the canonical order (chunk dots summed left to right).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    a.chunks(CHUNK)
        .zip(b.chunks(CHUNK))
        .fold(0.0, |s, (x, y)| s + dot_chunk(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    #[test]
    fn dot_matches_f64_reference() {
        let mut r = Rng::new(1);
        for n in [0, 1, 7, 8, 31, 32, 33, 100, 1000] {
            let a = r.normal_vec(n);
            let b = r.normal_vec(n);
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            let mag: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as f64 * *y as f64).abs())
                .sum();
            let got = dot(&a, &b) as f64;
            // f32 summation error bound ~ n·eps·Σ|ab|; n here ≤ 1000 → generous 1e-5·Σ|ab|.
            assert!(
                (got - want).abs() <= 1e-5 * mag + 1e-30,
                "n={n}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn dot_is_chunkwise() {
        let mut r = Rng::new(2);
        let a = r.normal_vec(96);
        let b = r.normal_vec(96);
        let want = (dot_chunk(&a[..32], &b[..32]) + dot_chunk(&a[32..64], &b[32..64]))
            + dot_chunk(&a[64..], &b[64..]);
        assert_eq!(dot(&a, &b).to_bits(), want.to_bits());
    }
}
