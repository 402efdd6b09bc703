//! Attention of one query over cached slots with an online softmax: slots go in tiles of 8;
//! per tile, 8 SIMD dot products over hd (reduced together into one vector of 8 scores), one
//! rescale of the running output when the max grows, a vector exp of the 8 scores, and p·v
//! accumulated into `out` (no scores buffer).
//!
//! Heads are taken in groups of up to [`GROUP`] with the tile loop outside the head loop, so a
//! tile's cached rows are read front to back once for the whole group (one contiguous run of
//! `group·hd` floats per slot) instead of once per head at a stride of a whole row. Each head's
//! arithmetic is the same sequence of operations either way.
//!
//! f16 rows are widened 8 at a time (F16C) as they are loaded; the arithmetic is the f32 one.

use std::arch::x86_64::*;

use super::exp::exp8;
use crate::cpu::attn::{KvElem, f16};

/// A cached element type this kernel loads 8 at a time as f32.
pub(crate) trait Load8: KvElem {
    /// # Safety
    /// 8 readable elements at `p`; AVX2, FMA and F16C present.
    unsafe fn load8(p: *const Self) -> __m256;
}

impl Load8 for f32 {
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable floats and AVX.
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl Load8 for f16 {
    #[inline(always)]
    unsafe fn load8(p: *const f16) -> __m256 {
        // SAFETY: the caller guarantees 8 readable halves (16 bytes) and F16C.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }
}

/// Query heads per pass over the slots (their running max and sum live in arrays this long).
const GROUP: usize = 16;

/// Σ a·b over the first `n − n % 8` elements as 8 lanes (2 accumulators of 8 lanes, added).
///
/// # Safety
/// `a` and `b` point to at least `n` readable floats.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn dot_lanes<E: Load8>(a: *const f32, b: *const E, n: usize) -> __m256 {
    let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n (caller: n readable floats at a and b).
        unsafe {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), E::load8(b.add(i)), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 8)), E::load8(b.add(i + 8)), s1);
        }
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n.
        unsafe {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), E::load8(b.add(i)), s0);
        }
    }
    _mm256_add_ps(s0, s1)
}

/// Lane i = ((d_i0 + d_i1) + (d_i2 + d_i3)) + ((d_i4 + d_i5) + (d_i6 + d_i7)): the 8 horizontal
/// sums at once, in the order of a single-vector `hadd` reduction.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn hsum8(d: [__m256; 8]) -> __m256 {
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
unsafe fn rescale_accumulate<E: Load8>(
    o: &mut [f32],
    c: f32,
    p: &[f32; 8],
    t: usize,
    v: *const E,
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
                acc = _mm256_fmadd_ps(_mm256_set1_ps(ps), E::load8(vs), acc);
            }
            _mm256_storeu_ps(op, acc);
        }
        i += 8;
    }
    for (j, oj) in o.iter_mut().enumerate().skip(i) {
        let mut a = *oj * c;
        for (s, &ps) in p.iter().enumerate().take(t) {
            // SAFETY: j < o.len(): inside value row s (caller).
            a += ps * unsafe { *v.add(s * stride + j) }.to_f32();
        }
        *oj = a;
    }
}

/// Slots ahead of the current tile whose rows are prefetched (two tiles). A head reads only
/// its `hd` elements of each row, a whole row apart, which the hardware prefetchers follow
/// poorly: the key loads stalled on DRAM. On the Zen 4 VM, llama-124m Q4_0 decode at a mean
/// depth of ~640 went 166–186 → 205–226 tok/s with f32 rows and 199–218 → 263–281 with f16
/// (`weft bench … -t 2 --int8 --huge-pages -p 128 -n 1024 [--kv-type f16]`); 32 and 64 slots
/// ahead measured alike.
const AHEAD_SLOTS: usize = 16;

/// Prefetches into L2 one head's `hd` elements of the 8 key and value rows from element `at`
/// on (rows `row` apart), those inside the cache.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn prefetch_tile<E>(keys: &[E], values: &[E], at: usize, row: usize, hd: usize) {
    let per_line = 64 / std::mem::size_of::<E>();
    for i in 0..8 {
        let o = at + i * row;
        if o + hd > keys.len() {
            return;
        }
        for b in (0..hd).step_by(per_line) {
            // SAFETY: o + b < keys.len() = values.len() (a hint: it never faults anyway).
            unsafe {
                _mm_prefetch::<_MM_HINT_T1>(keys.as_ptr().add(o + b).cast());
                _mm_prefetch::<_MM_HINT_T1>(values.as_ptr().add(o + b).cast());
            }
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend<E: Load8>(
    q: &[f32],
    keys: &[E],
    values: &[E],
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
                prefetch_tile(keys, values, base + AHEAD_SLOTS * row, row, hd);
                let mut d = [_mm256_setzero_ps(); 8];
                let mut tail = [0.0f32; 8];
                for i in 0..t {
                    let k = &keys[base + i * row..base + i * row + hd];
                    // SAFETY: qh and k hold hd floats.
                    d[i] = unsafe { dot_lanes(qh.as_ptr(), k.as_ptr(), hd) };
                    tail[i] = qh[simd_n..]
                        .iter()
                        .zip(&k[simd_n..])
                        .map(|(x, y)| x * y.to_f32())
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
