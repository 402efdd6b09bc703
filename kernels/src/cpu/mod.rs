//! Scalar CPU kernels (reference implementations; SIMD variants are tested against these).
//!
//! Conventions: kernels take slices and sizes, never allocate, and accumulate in f32 in a fixed
//! order (deterministic). Slice lengths are checked with `assert!` — the engine validates shapes
//! once at load time, so a mismatch here is a bug, not bad input. Typed errors are reserved for
//! data that comes from files ([`matvec::WeightView::new`], [`crate::quant`]).

pub mod act;
pub mod attn;
pub mod conv;
pub mod dot;
pub mod matvec;
pub mod moe;
pub mod norm;
pub mod rope;
pub mod ssm;
