//! Scalar float encodings: IEEE fp16 (via `half`, round-to-nearest-even) and bf16 exactly as
//! ggml's `ggml_compute_fp32_to_bf16` / `ggml_compute_bf16_to_fp32` (ggml-impl.h).

/// f32 → fp16 bits, round-to-nearest-even (same as ggml's `GGML_FP32_TO_FP16` and numpy).
#[inline]
pub fn f32_to_f16(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// fp16 bits → f32 (exact).
#[inline]
pub fn f16_to_f32(h: u16) -> f32 {
    half::f16::from_bits(h).to_f32()
}

/// f32 → bf16 bits as ggml does it: NaN becomes a quiet NaN keeping sign and top payload bits;
/// everything else rounds to nearest even (overflow rounds to ±inf).
#[inline]
pub fn f32_to_bf16(x: f32) -> u16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    // u + 0x7fff + lsb cannot overflow u32 for a non-NaN (at most 0xff80_0000 + 0x8000).
    ((u + (0x7fff + ((u >> 16) & 1))) >> 16) as u16
}

/// bf16 bits → f32 (exact).
#[inline]
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}
