//! Q8_0: 32 elements → `fp16 d; int8 qs[32]` (34 bytes). `quantize_row_q8_0_ref` semantics.

use super::float::{f16_to_f32, f32_to_f16};

/// Quantize one block exactly like ggml's `quantize_row_q8_0_ref`: d = amax/127 in f32,
/// id = 1/d (0 when d is 0), q = roundf(x·id) (half away from zero); d stored as fp16 while
/// the quants use the unrounded f32 id.
pub fn quantize_block_q8_0(x: &[f32; 32], out: &mut [u8; 34]) {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out[..2].copy_from_slice(&f32_to_f16(d).to_le_bytes());
    for (q, &v) in out[2..].iter_mut().zip(x) {
        // f32::round is C roundf; the `as i8` cast saturates, and |x·id| <= 127 anyway.
        *q = (v * id).round() as i8 as u8;
    }
}

/// y = qs[j]·d.
pub fn dequantize_block_q8_0(block: &[u8; 34], out: &mut [f32; 32]) {
    let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
    for (y, &q) in out.iter_mut().zip(&block[2..]) {
        *y = (q as i8) as f32 * d;
    }
}
