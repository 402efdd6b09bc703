//! CPU kernels: scalar reference implementations (`*_scalar`) and SIMD paths (x86-64 AVX2 /
//! AVX-512, aarch64 NEON / dotprod) chosen once at runtime ([`dispatch`]). The public kernel
//! functions dispatch; `*_on(path, ..)` variants run a given path (tests, benchmarks).
//!
//! Conventions: kernels take slices and sizes, never allocate, and accumulate in f32 in a fixed
//! order (deterministic). Slice lengths are checked with `assert!` — the engine validates shapes
//! once at load time, so a mismatch here is a bug, not bad input. Typed errors are reserved for
//! data that comes from files ([`matvec::WeightView::new`], [`crate::quant`]).

pub mod act;
pub mod attn;
pub mod attn_block;
pub mod conv;
pub mod dispatch;
pub mod dot;
pub mod gemm;
pub mod matvec;
pub mod matvec_q8;
pub mod moe;
pub mod norm;
pub mod rope;
mod rows;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod scan_blocks;
pub mod ssm;

#[cfg(target_arch = "aarch64")]
mod arm;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod noarch;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod ops_none;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(target_arch = "aarch64")]
use arm as arch;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
use noarch as arch;
#[cfg(target_arch = "x86_64")]
use x86 as arch;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, alloc_count};

    /// DESIGN.md invariant 1 at kernel level: no kernel touches the heap.
    #[test]
    fn no_kernel_allocates() {
        let mut r = Rng::new(60);
        let x = r.normal_vec(64);
        let (z, w) = (r.normal_vec(64), r.normal_vec(64));
        let mut out = vec![0.0; 64];
        let mut state = vec![0.0; 64 * 4];
        let cw = r.normal_vec(64 * 4);
        let mut ssm1 = vec![0.0; 64 * 4];
        let a1 = vec![-1.0; 64 * 4];
        let dims = ssm::Mamba2Dims {
            nh: 4,
            p: 16,
            n: 4,
            g: 2,
        };
        let mut ssm2 = vec![0.0; 4 * 16 * 4];
        let table = rope::RopeTable::new(16, 10000.0, rope::RopeMode::Neox);
        let (mut scratch, mut idx, mut wk) = ([0.0; 8], [0usize; 2], [0.0; 2]);
        let (n, ()) = alloc_count::count(|| {
            norm::rms_norm(&x, &w, 1e-5, &mut out);
            norm::rms_norm_inplace(&mut out, &w, 1e-5);
            norm::rms_norm_no_weight(&x, 1e-5, &mut out);
            norm::gated_rms_norm(&x, &z, &w, 4, 1e-5, &mut out);
            act::silu_mul(&x, &z, &mut out);
            act::gelu_mul(&x, &z, &mut out);
            act::softmax_inplace(&mut out);
            conv::conv1d_step_silu(&mut state, &x, &cw, Some(&w), &mut out);
            ssm::ssm_step_mamba1(&mut ssm1, &x, &w, &a1, &z[..4], &w[..4], &z, &mut out);
            ssm::ssm_step_mamba2(
                &mut ssm2,
                &x,
                &w[..4],
                &z[..4],
                &x[..8],
                &z[..8],
                &w[..4],
                dims,
                &mut out,
            );
            table.apply(&mut out, 4, 16, 9);
            rope::rope_inplace(&mut out, 4, 16, 8, 9, 10000.0, rope::RopeMode::Normal);
            moe::top_k_softmax_no_renorm(&x[..8], 2, &mut scratch, &mut idx, &mut wk);
        });
        assert_eq!(n, 0, "{n} allocations");
    }
}
