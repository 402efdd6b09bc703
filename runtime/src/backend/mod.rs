//! Backends interpret Programs. The CPU backend runs the scalar kernels; SIMD, threads and a GPU
//! backend slot in behind the same Program.

pub mod cpu;
pub mod cpu_traffic;
pub mod gpu;

/// Which backend a session runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    #[default]
    Cpu,
    /// The GPU (feature `gpu`): an error if none is usable.
    Gpu,
    /// The GPU if one is found and passes its self-test, else the CPU (reason logged).
    Auto,
}
