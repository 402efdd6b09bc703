//! Test-only helpers shared by weft's crates (a dev-dependency, never shipped): the counting
//! global allocator behind the "no allocation after init" tests, the seeded PRNG of the kernel
//! tests and the list of reference fixtures. Depends on nothing, so any crate of the workspace
//! can use it.

pub mod alloc;
mod fixtures;
mod rng;

pub use alloc::CountingAlloc;
pub use fixtures::{fixtures_dir, hf_cases};
pub use rng::Rng;
