//! RMSNorm pieces: sum of squares (4×8 lanes) and the w ⊙ (x·inv) scaling (the scalar
//! reference's operations and order, so outputs match it given the same `inv`).

use std::arch::x86_64::*;

use super::hsum4;

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn sum_squares(x: &[f32]) -> f32 {
    let n = x.len();
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 32 <= n.
            let v = unsafe { _mm256_loadu_ps(x.as_ptr().add(i + 8 * k)) };
            *a = _mm256_fmadd_ps(v, v, *a);
        }
        i += 32;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        let v = unsafe { _mm256_loadu_ps(x.as_ptr().add(i)) };
        acc[0] = _mm256_fmadd_ps(v, v, acc[0]);
        i += 8;
    }
    let tail: f32 = x[i..].iter().map(|v| v * v).sum();
    let h = hsum4(acc);
    ((h[0] + h[1]) + (h[2] + h[3])) + tail
}

/// out = w ⊙ (x · inv), or x · inv without a weight. `out` may be `x` itself (in place) when
/// called through [`scale_inplace`].
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn scale(x: &[f32], w: Option<&[f32]>, inv: f32, out: &mut [f32]) {
    let n = out.len();
    assert!(x.len() == n && w.is_none_or(|w| w.len() == n));
    let vi = _mm256_set1_ps(inv);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n = every slice's length.
        unsafe {
            let mut v = _mm256_mul_ps(_mm256_loadu_ps(x.as_ptr().add(i)), vi);
            if let Some(w) = w {
                v = _mm256_mul_ps(_mm256_loadu_ps(w.as_ptr().add(i)), v);
            }
            _mm256_storeu_ps(out.as_mut_ptr().add(i), v);
        }
        i += 8;
    }
    for j in i..n {
        out[j] = match w {
            Some(w) => w[j] * (x[j] * inv),
            None => x[j] * inv,
        };
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn scale_inplace(x: &mut [f32], w: &[f32], inv: f32) {
    let n = x.len();
    assert_eq!(w.len(), n);
    let vi = _mm256_set1_ps(inv);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n = both lengths.
        unsafe {
            let p = x.as_mut_ptr().add(i);
            let v = _mm256_mul_ps(
                _mm256_loadu_ps(w.as_ptr().add(i)),
                _mm256_mul_ps(_mm256_loadu_ps(p), vi),
            );
            _mm256_storeu_ps(p, v);
        }
        i += 8;
    }
    for j in i..n {
        x[j] = w[j] * (x[j] * inv);
    }
}
