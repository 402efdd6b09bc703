//! Attention of one query over cached slots with an online softmax: slots go in tiles of 8;
//! per tile, 8 SIMD dot products over hd (reduced together into one vector of 8 scores), one
//! rescale of the running output when the max grows, a vector exp of the 8 scores, and p·v
//! accumulated into `out` (no scores buffer).
//!
//! Heads are taken in groups of up to [`GROUP`] with the tile loop outside the head loop, so a
//! tile's cached rows are read front to back once for the whole group (one contiguous run of
//! `group·hd` floats per slot) instead of once per head at a stride of a whole row. Each head's
//! arithmetic is the same sequence of operations either way.

use std::arch::x86_64::*;

use super::exp::exp8;

/// Query heads per pass over the slots (their running max and sum live in arrays this long).
const GROUP: usize = 16;

/// Σ a·b over the first `n − n % 8` elements as 8 lanes (2 accumulators of 8 lanes, added).
///
/// # Safety
/// `a` and `b` point to at least `n` readable floats.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn dot_lanes(a: *const f32, b: *const f32, n: usize) -> __m256 {
    let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n (caller: n readable floats at a and b).
        unsafe {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.add(i + 8)),
                _mm256_loadu_ps(b.add(i + 8)),
                s1,
            );
        }
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n.
        unsafe {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
        }
    }
    _mm256_add_ps(s0, s1)
}

/// Lane i = ((d_i0 + d_i1) + (d_i2 + d_i3)) + ((d_i4 + d_i5) + (d_i6 + d_i7)): the 8 horizontal
/// sums at once, in the order of a single-vector `hadd` reduction.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum8(d: [__m256; 8]) -> __m256 {
    let x = _mm256_hadd_ps(_mm256_hadd_ps(d[0], d[1]), _mm256_hadd_ps(d[2], d[3]));
    let y = _mm256_hadd_ps(_mm256_hadd_ps(d[4], d[5]), _mm256_hadd_ps(d[6], d[7]));
    _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(x, y),
        _mm256_permute2f128_ps::<0x31>(x, y),
    )
}

/// o = o·c + Σ_{i<t} p_i·v_i, where v_i is the `o.len()` floats at `v + i·stride`.
///
/// # Safety
/// For every i < t, `v + i·stride` points to `o.len()` readable floats; t <= 8.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn rescale_accumulate(
    o: &mut [f32],
    c: f32,
    p: &[f32; 8],
    t: usize,
    v: *const f32,
    stride: usize,
) {
    let n = o.len();
    let vc = _mm256_set1_ps(c);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n = o.len(); the caller guarantees the value rows.
        unsafe {
            let op = o.as_mut_ptr().add(i);
            let mut acc = _mm256_mul_ps(_mm256_loadu_ps(op), vc);
            for (s, &ps) in p.iter().enumerate().take(t) {
                let vs = v.add(s * stride + i);
                acc = _mm256_fmadd_ps(_mm256_set1_ps(ps), _mm256_loadu_ps(vs), acc);
            }
            _mm256_storeu_ps(op, acc);
        }
        i += 8;
    }
    for (j, oj) in o.iter_mut().enumerate().skip(i) {
        let mut a = *oj * c;
        for (s, &ps) in p.iter().enumerate().take(t) {
            // SAFETY: j < o.len(): inside value row s (caller).
            a += ps * unsafe { *v.add(s * stride + j) };
        }
        *oj = a;
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
    let simd_n = hd - hd % 8;
    // The caller checked: q holds heads·hd, keys/values n_slots·row, out head_range.len()·hd.
    assert!(q.len() >= head_range.end * hd && out.len() >= head_range.len() * hd);
    assert!(keys.len() >= n_slots * row && values.len() >= n_slots * row);
    out.fill(0.0);
    if n_slots == 0 {
        return;
    }
    let first = head_range.start;
    for g0 in head_range.clone().step_by(GROUP) {
        let g1 = (g0 + GROUP).min(head_range.end);
        let mut m = [f32::NEG_INFINITY; GROUP];
        let mut l = [0.0f32; GROUP];
        for s0 in (0..n_slots).step_by(8) {
            let t = (n_slots - s0).min(8);
            for h in g0..g1 {
                let j = h - g0;
                let kvh = h / rep;
                let qh = &q[h * hd..(h + 1) * hd];
                let o = &mut out[(h - first) * hd..(h - first + 1) * hd];
                let base = s0 * row + kvh * hd;
                let mut d = [_mm256_setzero_ps(); 8];
                let mut tail = [0.0f32; 8];
                for i in 0..t {
                    let k = &keys[base + i * row..base + i * row + hd];
                    // SAFETY: qh and k hold hd floats.
                    d[i] = unsafe { dot_lanes(qh.as_ptr(), k.as_ptr(), hd) };
                    tail[i] = qh[simd_n..]
                        .iter()
                        .zip(&k[simd_n..])
                        .map(|(x, y)| x * y)
                        .sum();
                }
                let mut sc = [f32::NEG_INFINITY; 8];
                // SAFETY: tail and sc hold 8 floats.
                unsafe {
                    let s = _mm256_add_ps(hsum8(d), _mm256_loadu_ps(tail.as_ptr()));
                    let s = _mm256_mul_ps(s, _mm256_set1_ps(scale));
                    let mut all = [0.0f32; 8];
                    _mm256_storeu_ps(all.as_mut_ptr(), s);
                    sc[..t].copy_from_slice(&all[..t]);
                }
                let m_new = sc.iter().fold(m[j], |a, &b| a.max(b));
                // exp(−inf − finite) = 0 rescales the (all-zero) output of the first tile.
                let c = (m[j] - m_new).exp();
                let mut p = [0.0f32; 8];
                // SAFETY: sc and p hold 8 floats.
                unsafe {
                    let e = exp8(_mm256_sub_ps(
                        _mm256_loadu_ps(sc.as_ptr()),
                        _mm256_set1_ps(m_new),
                    ));
                    _mm256_storeu_ps(p.as_mut_ptr(), e);
                }
                l[j] = l[j] * c + p[..t].iter().sum::<f32>();
                // SAFETY: slots s0 .. s0 + t < n_slots: rows inside `values` (asserted above),
                // each with hd floats from kvh·hd on.
                unsafe { rescale_accumulate(o, c, &p, t, values.as_ptr().add(base), row) };
                m[j] = m_new;
            }
        }
        for h in g0..g1 {
            let inv = 1.0 / l[h - g0];
            out[(h - first) * hd..(h - first + 1) * hd]
                .iter_mut()
                .for_each(|v| *v *= inv);
        }
    }
}
