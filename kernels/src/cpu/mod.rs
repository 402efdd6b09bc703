//! Scalar CPU kernels (reference implementations; SIMD variants are tested against these).
