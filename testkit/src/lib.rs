//! Test-only helpers shared by weft's crates (a dev-dependency, never shipped): the counting
//! global allocator behind the "no allocation after init" tests, and the seeded PRNG of the
//! kernel tests. Depends on nothing, so any crate of the workspace can use it.

pub mod alloc;
mod rng;

pub use alloc::CountingAlloc;
pub use rng::Rng;
