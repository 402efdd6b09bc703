//! Q4_K: 256 elements → `fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128]` (144 bytes):
//! 8 sub-blocks of 32 with a 6-bit scale and 6-bit min each (`dequantize_row_q4_K`).

use super::float::f16_to_f32;

/// (scale, min) of sub-block `j` (0..8) from the packed 12-byte `scales` (ggml `get_scale_min_k4`).
#[inline]
pub fn get_scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// Per 64 elements: the low nibbles of 32 bytes with sub-block scale/min 2k, then the high
/// nibbles with 2k+1; y = (d·sc)·q − dmin·m, in that evaluation order (as ggml and gguf-py).
pub fn dequantize_block_q4_k(block: &[u8; 144], out: &mut [f32; 256]) {
    let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
    let dmin = f16_to_f32(u16::from_le_bytes([block[2], block[3]]));
    let scales: &[u8; 12] = block[4..16].try_into().expect("12 bytes");
    let qs = &block[16..];
    for k in 0..4 {
        let q = &qs[32 * k..32 * k + 32];
        let (sc0, m0) = get_scale_min_k4(2 * k, scales);
        let (sc1, m1) = get_scale_min_k4(2 * k + 1, scales);
        let (d0, mm0) = (d * sc0 as f32, dmin * m0 as f32);
        let (d1, mm1) = (d * sc1 as f32, dmin * m1 as f32);
        let y = &mut out[64 * k..64 * k + 64];
        for l in 0..32 {
            y[l] = d0 * (q[l] & 0x0f) as f32 - mm0;
            y[l + 32] = d1 * (q[l] >> 4) as f32 - mm1;
        }
    }
}
