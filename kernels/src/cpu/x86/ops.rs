//! Path-taking entry points of the elementwise and recurrence kernels: both x86 SIMD paths run
//! the AVX2 code, except the SSM steps, which take AVX-512 kernels where the path has them.
//! Each returns `false` when the path has no SIMD version (the caller then runs the scalar
//! reference). Shapes are validated by the callers.

use std::ops::Range;

use super::avx2::{attn, attn_block as attn_block_avx2, conv, exp, norm, ssm};
use super::avx2_of;
use crate::cpu::attn::f16;
use crate::cpu::attn_block::{self, BlockGeom, Source, Visibility};
use crate::cpu::dispatch::Path;
use crate::cpu::ssm::Mamba2Dims;

/// Defines `fn $name(path, args..) -> bool` running `$kernel(args..)` on the AVX2 code.
macro_rules! entries {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) => $kernel:path;)*) => {$(
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name(path: Path, $($arg: $ty),*) -> bool {
            if avx2_of(path).is_none() {
                return false;
            }
            // SAFETY: `avx2_of` made a token: the CPU has AVX2, FMA and F16C.
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
    fn sum_squares_into(x: &[f32], out: &mut f32) => sum_squares_k;
    fn scale(x: &[f32], w: Option<&[f32]>, inv: f32, out: &mut [f32]) => norm::scale;
    fn scale_inplace(x: &mut [f32], w: &[f32], inv: f32) => norm::scale_inplace;
    // One prefill conv row for K = 4.
    fn conv1d_row_k4(
        taps: [&[f32]; 4], wt: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32],
        silu: bool
    ) => conv::conv1d_row_k4;
    fn attend(
        q: &[f32], keys: &[f32], values: &[f32], n_slots: usize, heads: usize, kv_heads: usize,
        hd: usize, scale: f32, head_range: Range<usize>, out: &mut [f32]
    ) => attn::attend;
    fn attend_f16(
        q: &[f32], keys: &[f16], values: &[f16], n_slots: usize, heads: usize, kv_heads: usize,
        hd: usize, scale: f32, head_range: Range<usize>, out: &mut [f32]
    ) => attn::attend;
}

/// Mamba-1 step: the AVX-512 kernel for N = 16 on the AVX-512 paths, else the AVX2 one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ssm_mamba1(
    path: Path,
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    y: &mut [f32],
) -> bool {
    if super::avx512_of(path)
        .is_some_and(|t| super::avx512::ssm_mamba1(t, state, x, dt, a, b, c, d, y))
    {
        return true;
    }
    if avx2_of(path).is_none() {
        return false;
    }
    // SAFETY: `avx2_of` made a token: the CPU has AVX2, FMA and F16C.
    unsafe { ssm::mamba1(state, x, dt, a, b, c, d, y) };
    true
}

/// Mamba-2 step: the AVX-512 kernel for N = 16·2^k up to 256 on the AVX-512 paths, else the
/// AVX2 one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ssm_mamba2(
    path: Path,
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
) -> bool {
    if super::avx512_of(path).is_some_and(|t| {
        super::avx512::ssm_mamba2(t, state, x, dt, a, b, c, d, dims, heads.clone(), y)
    }) {
        return true;
    }
    if avx2_of(path).is_none() {
        return false;
    }
    // SAFETY: `avx2_of` made a token: the CPU has AVX2, FMA and F16C.
    unsafe { ssm::mamba2(state, x, dt, a, b, c, d, dims, heads, y) };
    true
}

#[target_feature(enable = "avx2,fma,f16c")]
fn sum_squares_k(x: &[f32], out: &mut f32) {
    *out = norm::sum_squares(x);
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
    if avx2_of(path).is_none() {
        return false;
    }
    // SAFETY: `avx2_of` made a token: the CPU has AVX2, FMA and F16C.
    unsafe { conv::conv1d_step(state, x, w, bias, out, silu) }
}

/// The block attention body compiled with AVX2 + FMA (see `attn_block`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend_block(
    path: Path,
    sources: &[Source],
    vis: &Visibility,
    g: &BlockGeom,
    q: &[f32],
    q_stride: usize,
    rows: usize,
    scratch: &mut [f32],
    out: &mut [f32],
) -> bool {
    if !attend_block_simd(path, g.hd) {
        return false;
    }
    // SAFETY: `avx2_of` made a token: the CPU has AVX2, FMA and F16C.
    unsafe { attend_block_k(path, sources, vis, g, q, q_stride, rows, scratch, out) };
    true
}

#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
fn attend_block_k(
    path: Path,
    sources: &[Source],
    vis: &Visibility,
    g: &BlockGeom,
    q: &[f32],
    q_stride: usize,
    rows: usize,
    scratch: &mut [f32],
    out: &mut [f32],
) {
    attn_block::block::<attn_block_avx2::Avx2Tiles>(
        path, sources, vis, g, q, q_stride, rows, scratch, out,
    );
}

/// Whether [`attend_block`] runs for head dimension `hd` on `path`.
pub(crate) fn attend_block_simd(path: Path, hd: usize) -> bool {
    avx2_of(path).is_some() && hd.is_multiple_of(8)
}
