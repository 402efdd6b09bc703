//! NEON elementwise and recurrence kernels (both aarch64 paths) with the x86 versions'
//! numerics: SSM state updates in the scalar reference's operation order, conv K = 4 summed as
//! (p0 + p1) + (p2 + p3), RMSNorm scaling as the reference, online-softmax attention.
#![allow(clippy::too_many_arguments)]

use std::arch::aarch64::*;
use std::ops::Range;

use super::exp::{self, exp4, silu4};
use crate::cpu::attn::{KvElem, f16};
use crate::cpu::dispatch::Path;
use crate::cpu::ssm::{Mamba2Dims, mamba2_rows};

fn neon(path: Path) -> bool {
    matches!(path, Path::Neon | Path::NeonDotprod)
}

/// Defines `fn $name(path, args..) -> bool` running the NEON `$kernel(args..)`.
macro_rules! entries {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) => $kernel:path;)*) => {$(
        pub(crate) fn $name(path: Path, $($arg: $ty),*) -> bool {
            if !neon(path) {
                return false;
            }
            // SAFETY: NEON is part of the aarch64 baseline.
            unsafe { $kernel($($arg),*) };
            true
        }
    )*};
}

entries! {
    fn exp_inplace(x: &mut [f32]) => exp::exp_inplace;
    fn silu_inplace(x: &mut [f32]) => exp::silu_inplace;
    fn softplus_inplace(x: &mut [f32]) => exp::softplus_inplace;
    fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) => exp::silu_mul;
    fn gelu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) => exp::gelu_mul;
    fn sum_squares_into(x: &[f32], out: &mut f32) => sum_squares;
    fn scale(x: &[f32], w: Option<&[f32]>, inv: f32, out: &mut [f32]) => scale_k;
    fn scale_inplace(x: &mut [f32], w: &[f32], inv: f32) => scale_inplace_k;
    fn ssm_mamba1(
        state: &mut [f32], x: &[f32], dt: &[f32], a: &[f32], b: &[f32], c: &[f32], d: &[f32],
        y: &mut [f32]
    ) => mamba1;
    fn ssm_mamba2(
        state: &mut [f32], x: &[f32], dt: &[f32], a: &[f32], b: &[f32], c: &[f32], d: &[f32],
        dims: Mamba2Dims, heads: Range<usize>, y: &mut [f32]
    ) => mamba2;
    fn attend(
        q: &[f32], keys: &[f32], values: &[f32], n_slots: usize, heads: usize, kv_heads: usize,
        hd: usize, scale: f32, head_range: Range<usize>, out: &mut [f32]
    ) => attend_k;
    fn attend_f16(
        q: &[f32], keys: &[f16], values: &[f16], n_slots: usize, heads: usize, kv_heads: usize,
        hd: usize, scale: f32, head_range: Range<usize>, out: &mut [f32]
    ) => attend_k;
}

/// No row kernel here: prefill runs the conv step per row.
pub(crate) fn conv1d_row_k4(
    _: Path,
    _: [&[f32]; 4],
    _: &[f32],
    _: &[f32],
    _: Option<&[f32]>,
    _: &mut [f32],
    _: bool,
) -> bool {
    false
}

/// Conv step for K = 4 (other K: `false`).
pub(crate) fn conv1d_step(
    path: Path,
    state: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    silu: bool,
) -> bool {
    if !neon(path) || state.len() != 4 * x.len() {
        return false;
    }
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe { conv4(state, x, w, bias, out, silu) };
    true
}

#[target_feature(enable = "neon")]
fn sum_squares(x: &[f32], out: &mut f32) {
    let n = x.len();
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 16 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 16 <= n.
            let v = unsafe { vld1q_f32(x.as_ptr().add(i + 4 * k)) };
            *a = vfmaq_f32(*a, v, v);
        }
        i += 16;
    }
    while i + 4 <= n {
        // SAFETY: i + 4 <= n.
        let v = unsafe { vld1q_f32(x.as_ptr().add(i)) };
        acc[0] = vfmaq_f32(acc[0], v, v);
        i += 4;
    }
    let tail: f32 = x[i..].iter().map(|v| v * v).sum();
    let s = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    *out = vaddvq_f32(s) + tail;
}

#[target_feature(enable = "neon")]
fn scale_k(x: &[f32], w: Option<&[f32]>, inv: f32, out: &mut [f32]) {
    let n = out.len();
    assert!(x.len() == n && w.is_none_or(|w| w.len() == n));
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n = every slice's length.
        unsafe {
            let mut v = vmulq_n_f32(vld1q_f32(x.as_ptr().add(i)), inv);
            if let Some(w) = w {
                v = vmulq_f32(vld1q_f32(w.as_ptr().add(i)), v);
            }
            vst1q_f32(out.as_mut_ptr().add(i), v);
        }
        i += 4;
    }
    for j in i..n {
        out[j] = match w {
            Some(w) => w[j] * (x[j] * inv),
            None => x[j] * inv,
        };
    }
}

#[target_feature(enable = "neon")]
fn scale_inplace_k(x: &mut [f32], w: &[f32], inv: f32) {
    let n = x.len();
    assert_eq!(w.len(), n);
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n = both lengths.
        unsafe {
            let p = x.as_mut_ptr().add(i);
            vst1q_f32(
                p,
                vmulq_f32(vld1q_f32(w.as_ptr().add(i)), vmulq_n_f32(vld1q_f32(p), inv)),
            );
        }
        i += 4;
    }
    for j in i..n {
        x[j] = w[j] * (x[j] * inv);
    }
}

/// Mamba-2 step, N ≤ [`SIMD_MAX_N`](crate::cpu::ssm::SIMD_MAX_N).
#[target_feature(enable = "neon")]
#[allow(clippy::too_many_arguments)]
fn mamba2(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    dims: Mamba2Dims,
    heads: Range<usize>,
    y: &mut [f32],
) {
    mamba2_rows(
        state,
        x,
        dt,
        a,
        b,
        c,
        d,
        dims,
        heads,
        y,
        |s, dtb, c, da, xv| row_m2(s, dtb, c, da, xv),
    );
}

/// One state row of N: s = s·da + dtb·xv (dtb = dt·B, formed once per head); returns Σ s·c.
/// Four named accumulators, 16 floats per pass (an accumulator array indexed by the loop
/// counter would stay in memory).
#[target_feature(enable = "neon")]
#[inline]
fn row_m2(s: &mut [f32], dtb: &[f32], c: &[f32], da: f32, xv: f32) -> f32 {
    let n = s.len();
    // s[k..k + 4] updated and stored; returns acc + s·c there.
    let mut upd = |k: usize, acc: float32x4_t| {
        // SAFETY: k + 4 <= n = s.len() = dtb.len() = c.len() (the loops below, the caller).
        unsafe {
            let sp = s.as_mut_ptr().add(k);
            let dk = vld1q_f32(dtb.as_ptr().add(k));
            let sv = vaddq_f32(vmulq_n_f32(vld1q_f32(sp), da), vmulq_n_f32(dk, xv));
            vst1q_f32(sp, sv);
            vfmaq_f32(acc, sv, vld1q_f32(c.as_ptr().add(k)))
        }
    };
    let [mut a0, mut a1, mut a2, mut a3] = [vdupq_n_f32(0.0); 4];
    let mut k = 0;
    while k + 16 <= n {
        a0 = upd(k, a0);
        a1 = upd(k + 4, a1);
        a2 = upd(k + 8, a2);
        a3 = upd(k + 12, a3);
        k += 16;
    }
    while k + 4 <= n {
        a0 = upd(k, a0);
        k += 4;
    }
    let mut tail = 0.0f32;
    for i in k..n {
        s[i] = s[i] * da + dtb[i] * xv;
        tail += s[i] * c[i];
    }
    let sum = vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3));
    vaddvq_f32(sum) + tail
}

#[target_feature(enable = "neon")]
fn mamba1(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    y: &mut [f32],
) {
    let n = b.len();
    for i in 0..x.len() {
        let (xi, dti) = (x[i], dt[i]);
        let h = &mut state[i * n..(i + 1) * n];
        let ai = &a[i * n..(i + 1) * n];
        let mut acc = vdupq_n_f32(0.0);
        let mut k = 0;
        while k + 4 <= n {
            // SAFETY: k + 4 <= n = h.len() = ai.len() = b.len() = c.len().
            unsafe {
                let hp = h.as_mut_ptr().add(k);
                let e = exp4(vmulq_n_f32(vld1q_f32(ai.as_ptr().add(k)), dti));
                let dtb = vmulq_n_f32(vld1q_f32(b.as_ptr().add(k)), dti);
                let hv = vaddq_f32(vmulq_f32(e, vld1q_f32(hp)), vmulq_n_f32(dtb, xi));
                vst1q_f32(hp, hv);
                acc = vfmaq_f32(acc, hv, vld1q_f32(c.as_ptr().add(k)));
            }
            k += 4;
        }
        let mut tail = 0.0f32;
        for j in k..n {
            h[j] = (dti * ai[j]).exp() * h[j] + (dti * b[j]) * xi;
            tail += h[j] * c[j];
        }
        y[i] = (vaddvq_f32(acc) + tail) + d[i] * xi;
    }
}

/// K = 4: each channel's state is one vector; shift with EXT, insert x, and reduce four
/// channels' products with two pairwise adds.
#[target_feature(enable = "neon")]
fn conv4(
    state: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    silu: bool,
) {
    let c = x.len();
    let c4 = c / 4 * 4;
    let mut ch = 0;
    while ch < c4 {
        // SAFETY: ch + 4 <= c: 16 floats of state and w from 4·ch, 4 of x, bias, out from ch.
        unsafe {
            let mut prod = [vdupq_n_f32(0.0); 4];
            for (j, p) in prod.iter_mut().enumerate() {
                let sp = state.as_mut_ptr().add(4 * (ch + j));
                let s = vextq_f32::<1>(vld1q_f32(sp), vdupq_n_f32(x[ch + j]));
                vst1q_f32(sp, s);
                *p = vmulq_f32(s, vld1q_f32(w.as_ptr().add(4 * (ch + j))));
            }
            let mut o = vpaddq_f32(vpaddq_f32(prod[0], prod[1]), vpaddq_f32(prod[2], prod[3]));
            if let Some(bv) = bias {
                o = vaddq_f32(o, vld1q_f32(bv.as_ptr().add(ch)));
            }
            if silu {
                o = silu4(o);
            }
            vst1q_f32(out.as_mut_ptr().add(ch), o);
        }
        ch += 4;
    }
    for ch in c4..c {
        let s = &mut state[4 * ch..4 * ch + 4];
        s.copy_within(1.., 0);
        s[3] = x[ch];
        let wc = &w[4 * ch..4 * ch + 4];
        let acc = (s[0] * wc[0] + s[1] * wc[1]) + (s[2] * wc[2] + s[3] * wc[3]);
        let v = acc + bias.map_or(0.0, |b| b[ch]);
        out[ch] = if silu { crate::cpu::act::silu(v) } else { v };
    }
}

/// A cached element type the attention kernel loads 4 at a time as f32.
trait Load4: KvElem {
    /// # Safety
    /// 4 readable elements at `p`.
    unsafe fn load4(p: *const Self) -> float32x4_t;
}

impl Load4 for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> float32x4_t {
        // SAFETY: the caller guarantees 4 readable floats; NEON is baseline.
        unsafe { vld1q_f32(p) }
    }
}

impl Load4 for f16 {
    #[inline(always)]
    unsafe fn load4(p: *const f16) -> float32x4_t {
        // SAFETY: the caller guarantees 4 readable halves (8 bytes).
        unsafe { super::matvec::ld_f16(p.cast()) }
    }
}

#[target_feature(enable = "neon")]
#[inline]
fn dot<E: Load4>(a: &[f32], b: &[E]) -> f32 {
    let n = a.len();
    let (mut s0, mut s1) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n = a.len() = b.len().
        unsafe {
            s0 = vfmaq_f32(
                s0,
                vld1q_f32(a.as_ptr().add(i)),
                E::load4(b.as_ptr().add(i)),
            );
            s1 = vfmaq_f32(
                s1,
                vld1q_f32(a.as_ptr().add(i + 4)),
                E::load4(b.as_ptr().add(i + 4)),
            );
        }
        i += 8;
    }
    if i + 4 <= n {
        // SAFETY: i + 4 <= n.
        unsafe {
            s0 = vfmaq_f32(
                s0,
                vld1q_f32(a.as_ptr().add(i)),
                E::load4(b.as_ptr().add(i)),
            )
        };
        i += 4;
    }
    let tail: f32 = a[i..]
        .iter()
        .zip(&b[i..])
        .map(|(x, y)| x * y.to_f32())
        .sum();
    vaddvq_f32(vaddq_f32(s0, s1)) + tail
}

/// Online softmax over tiles of 4 slots (see the x86 version).
#[target_feature(enable = "neon")]
fn attend_k<E: Load4>(
    q: &[f32],
    keys: &[E],
    values: &[E],
    n_slots: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    scale: f32,
    head_range: Range<usize>,
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
        for s0 in (0..n_slots).step_by(4) {
            let t = (n_slots - s0).min(4);
            let mut sc = [f32::NEG_INFINITY; 4];
            for (i, v) in sc.iter_mut().enumerate().take(t) {
                *v = dot(qh, &keys[span(s0 + i)]) * scale;
            }
            let m_new = sc.iter().fold(m, |a, &b| a.max(b));
            let c = (m - m_new).exp();
            let mut p = [0.0f32; 4];
            // SAFETY: sc and p hold 4 floats.
            unsafe {
                let e = exp4(vsubq_f32(vld1q_f32(sc.as_ptr()), vdupq_n_f32(m_new)));
                vst1q_f32(p.as_mut_ptr(), e);
            }
            l = l * c + p[..t].iter().sum::<f32>();
            let mut i = 0;
            while i + 4 <= hd {
                // SAFETY: i + 4 <= hd = o.len() = every value row's length.
                unsafe {
                    let op = o.as_mut_ptr().add(i);
                    let mut acc = vmulq_n_f32(vld1q_f32(op), c);
                    for (j, &pj) in p[..t].iter().enumerate() {
                        let v = values[span(s0 + j)].as_ptr().add(i);
                        acc = vfmaq_n_f32(acc, E::load4(v), pj);
                    }
                    vst1q_f32(op, acc);
                }
                i += 4;
            }
            for k in i..hd {
                o[k] = p[..t].iter().enumerate().fold(o[k] * c, |a, (j, &pj)| {
                    a + pj * values[span(s0 + j)][k].to_f32()
                });
            }
            m = m_new;
        }
        let inv = 1.0 / l;
        o.iter_mut().for_each(|v| *v *= inv);
    }
}

/// The block attention body with the NEON tile products (head dimensions that are multiples
/// of 8; see `attn_block`).
pub(crate) fn attend_block(
    path: Path,
    sources: &[crate::cpu::attn_block::Source],
    vis: &crate::cpu::attn_block::Visibility,
    g: &crate::cpu::attn_block::BlockGeom,
    q: &[f32],
    q_stride: usize,
    rows: usize,
    scratch: &mut [f32],
    out: &mut [f32],
) -> bool {
    if !attend_block_simd(path, g.hd) {
        return false;
    }
    crate::cpu::attn_block::block::<super::attn_block::NeonTiles>(
        path, sources, vis, g, q, q_stride, rows, scratch, out,
    );
    true
}

/// Whether [`attend_block`] runs for head dimension `hd` on `path`.
pub(crate) fn attend_block_simd(path: Path, hd: usize) -> bool {
    neon(path) && hd.is_multiple_of(8)
}
