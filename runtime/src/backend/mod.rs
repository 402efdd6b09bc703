//! Backends interpret Programs. The CPU backend runs the scalar kernels; SIMD, threads and a GPU
//! backend slot in behind the same Program.

pub mod cpu;
pub mod cpu_gemm;
pub mod cpu_traffic;

/// Which backend a session runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    #[default]
    Cpu,
}
