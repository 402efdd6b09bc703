//! Q6_K: 256 elements → `uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d` (210 bytes):
//! 16 sub-blocks of 16 with an 8-bit signed scale each (`dequantize_row_q6_K`).

use super::float::f16_to_f32;

/// Per 128 elements (ql += 64, qh += 32, sc += 8 each half): four 6-bit quants from one
/// (ql, qh) pair land at l, l+32, l+64, l+96; y = (d·sc)·(q − 32), in that order.
pub fn dequantize_block_q6_k(block: &[u8; 210], out: &mut [f32; 256]) {
    let d = f16_to_f32(u16::from_le_bytes([block[208], block[209]]));
    for half in 0..2 {
        let ql = &block[64 * half..64 * half + 64];
        let qh = &block[128 + 32 * half..128 + 32 * half + 32];
        let sc = &block[192 + 8 * half..192 + 8 * half + 8];
        let y = &mut out[128 * half..128 * half + 128];
        for l in 0..32 {
            let is = l / 16;
            let h = qh[l];
            let q1 = ((ql[l] & 0x0f) | ((h & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0f) | (((h >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((h >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)) as i32 - 32;
            let s = |i: usize| d * (sc[i] as i8) as f32;
            y[l] = s(is) * q1 as f32;
            y[l + 32] = s(is + 2) * q2 as f32;
            y[l + 64] = s(is + 4) * q3 as f32;
            y[l + 96] = s(is + 6) * q4 as f32;
        }
    }
}
