//! Q4_0: 32 elements → `fp16 d; uint8 qs[16]` (18 bytes); low nibble of qs[j] is element j,
//! high nibble is element j+16. `quantize_row_q4_0_ref` semantics.

use super::float::{f16_to_f32, f32_to_f16};

/// Quantize one block exactly like ggml's `quantize_row_q4_0_ref`: `max` = the first element of
/// largest |x| with its sign, d = max/−8, id = 1/d (0 when d is 0),
/// q = min(15, (int8)(x·id + 8.5)) (truncation toward zero).
pub fn quantize_block_q4_0(x: &[f32; 32], out: &mut [u8; 18]) {
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out[..2].copy_from_slice(&f32_to_f16(d).to_le_bytes());
    // x·id lies in [-8, 8] (up to rounding), so x·id + 8.5 is in [0.5, 16.5] and the C
    // `(int8_t)` cast is a plain truncation; `as i8` matches it and saturates otherwise.
    let q = |v: f32| ((v * id + 8.5) as i8).min(15) as u8;
    for j in 0..16 {
        out[2 + j] = q(x[j]) | (q(x[j + 16]) << 4);
    }
}

/// y[j] = ((qs[j] & 0xF) − 8)·d, y[j+16] = ((qs[j] >> 4) − 8)·d.
pub fn dequantize_block_q4_0(block: &[u8; 18], out: &mut [f32; 32]) {
    let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
    for j in 0..16 {
        let b = block[2 + j];
        out[j] = ((b & 0x0f) as i32 - 8) as f32 * d;
        out[j + 16] = ((b >> 4) as i32 - 8) as f32 * d;
    }
}
