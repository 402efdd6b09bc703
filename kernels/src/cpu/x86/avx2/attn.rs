//! Attention of one query over cached slots with an online softmax: slots go in tiles of 8;
//! per tile, 8 SIMD dot products over hd, one rescale of the running output when the max
//! grows, a vector exp of the 8 scores, and p·v accumulated into `out` (no scores buffer).

use std::arch::x86_64::*;

use super::exp::exp8;
use super::hsum4;

/// Σ a·b over hd (8 lanes × 2 accumulators, scalar tail).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n = a.len() = b.len().
        unsafe {
            s0 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
                s0,
            );
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i + 8)),
                _mm256_loadu_ps(b.as_ptr().add(i + 8)),
                s1,
            );
        }
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n.
        unsafe {
            s0 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
                s0,
            );
        }
        i += 8;
    }
    let tail: f32 = a[i..].iter().zip(&b[i..]).map(|(x, y)| x * y).sum();
    let z = _mm256_setzero_ps();
    hsum4([_mm256_add_ps(s0, s1), z, z, z])[0] + tail
}

/// o = o·c + Σ_i p_i·v_i.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn rescale_accumulate(o: &mut [f32], c: f32, p: &[f32], v: &[&[f32]]) {
    let n = o.len();
    let vc = _mm256_set1_ps(c);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n = o.len() = every v[s].len().
        unsafe {
            let op = o.as_mut_ptr().add(i);
            let mut acc = _mm256_mul_ps(_mm256_loadu_ps(op), vc);
            for (&ps, vs) in p.iter().zip(v) {
                acc = _mm256_fmadd_ps(_mm256_set1_ps(ps), _mm256_loadu_ps(vs.as_ptr().add(i)), acc);
            }
            _mm256_storeu_ps(op, acc);
        }
        i += 8;
    }
    for j in i..n {
        o[j] = p
            .iter()
            .zip(v)
            .fold(o[j] * c, |a, (&ps, vs)| a + ps * vs[j]);
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    n_slots: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    scale: f32,
    head_range: std::ops::Range<usize>,
    out: &mut [f32],
) {
    let rep = heads / kv_heads;
    let row = kv_heads * hd;
    for (h, o) in head_range.zip(out.chunks_exact_mut(hd)) {
        o.fill(0.0);
        if n_slots == 0 {
            continue;
        }
        let kvh = h / rep;
        let qh = &q[h * hd..(h + 1) * hd];
        let span = |s: usize| s * row + kvh * hd..s * row + (kvh + 1) * hd;
        let (mut m, mut l) = (f32::NEG_INFINITY, 0.0f32);
        for s0 in (0..n_slots).step_by(8) {
            let t = (n_slots - s0).min(8);
            let mut sc = [f32::NEG_INFINITY; 8];
            for (i, v) in sc.iter_mut().enumerate().take(t) {
                *v = dot(qh, &keys[span(s0 + i)]) * scale;
            }
            let m_new = sc.iter().fold(m, |a, &b| a.max(b));
            // exp(−inf − finite) = 0 rescales the (all-zero) output of the first tile.
            let c = (m - m_new).exp();
            let mut p = [0.0f32; 8];
            // SAFETY: sc and p hold 8 floats.
            unsafe {
                let e = exp8(_mm256_sub_ps(
                    _mm256_loadu_ps(sc.as_ptr()),
                    _mm256_set1_ps(m_new),
                ));
                _mm256_storeu_ps(p.as_mut_ptr(), e);
            }
            l = l * c + p[..t].iter().sum::<f32>();
            let vs: [&[f32]; 8] = std::array::from_fn(|i| &values[span(s0 + i.min(t - 1))]);
            rescale_accumulate(o, c, &p[..t], &vs[..t]);
            m = m_new;
        }
        let inv = 1.0 / l;
        o.iter_mut().for_each(|v| *v *= inv);
    }
}
