//! Depthwise causal conv1d decode step (+ SiLU), channel-major `[C, K]` state.
//! K = 4 (every Mamba model) runs 8 channels per step: shift each channel's 4-float state
//! within its 128-bit half, insert x, multiply by w, and reduce the 8 channels' 4 products with
//! a `hadd` tree ((s0w0 + s1w1) + (s2w2 + s3w3)). Other K use the scalar loop + vector SiLU.

use std::arch::x86_64::*;

use super::exp::silu8;

#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn conv1d_step(
    state: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    silu: bool,
) -> bool {
    let c = x.len();
    if state.len() != 4 * c {
        return false;
    }
    let c8 = c / 8 * 8;
    let shift = _mm256_setr_epi32(1, 2, 3, 3, 5, 6, 7, 7);
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let mut ch = 0;
    while ch < c8 {
        // SAFETY: ch + 8 <= c: channels ch..ch+8 are 32 floats of state and w from 4·ch, and
        // 8 floats of x, bias and out from ch.
        unsafe {
            let xv = _mm256_loadu_ps(x.as_ptr().add(ch));
            let mut prod = [_mm256_setzero_ps(); 4];
            for (pair, p) in prod.iter_mut().enumerate() {
                let sp = state.as_mut_ptr().add(4 * ch + 8 * pair);
                let s = _mm256_permutevar8x32_ps(_mm256_loadu_ps(sp), shift);
                // x of channels ch+2·pair (lane 3) and ch+2·pair+1 (lane 7).
                let xi = _mm256_set1_epi32(2 * pair as i32);
                let xs = _mm256_permutevar8x32_ps(
                    xv,
                    _mm256_add_epi32(xi, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1)),
                );
                let s = _mm256_blend_ps::<0b1000_1000>(s, xs);
                _mm256_storeu_ps(sp, s);
                *p = _mm256_mul_ps(s, _mm256_loadu_ps(w.as_ptr().add(4 * ch + 8 * pair)));
            }
            let h = _mm256_hadd_ps(
                _mm256_hadd_ps(prod[0], prod[1]),
                _mm256_hadd_ps(prod[2], prod[3]),
            );
            let mut o = _mm256_permutevar8x32_ps(h, order);
            if let Some(bv) = bias {
                o = _mm256_add_ps(o, _mm256_loadu_ps(bv.as_ptr().add(ch)));
            }
            if silu {
                o = silu8(o);
            }
            _mm256_storeu_ps(out.as_mut_ptr().add(ch), o);
        }
        ch += 8;
    }
    for ch in c8..c {
        let s = &mut state[4 * ch..4 * ch + 4];
        s.copy_within(1.., 0);
        s[3] = x[ch];
        out[ch] = channel(
            [s[0], s[1], s[2], s[3]],
            &w[4 * ch..4 * ch + 4],
            bias,
            ch,
            silu,
        );
    }
    true
}

/// One prefill row for K = 4: `taps` are the row's four inputs oldest first (the state a step
/// would hold after taking this row), `wt` the weights transposed to `[4][C]`, `w` as stored
/// (`[C][4]`, for the tail). The step's arithmetic exactly: products summed as
/// (p0 + p1) + (p2 + p3), then the bias, then SiLU (the same vector and scalar ones).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn conv1d_row_k4(
    taps: [&[f32]; 4],
    wt: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    silu: bool,
) {
    let c = out.len();
    assert!(taps.iter().all(|t| t.len() >= c) && wt.len() >= 4 * c && w.len() >= 4 * c);
    assert!(bias.is_none_or(|b| b.len() >= c));
    let c8 = c / 8 * 8;
    let mut ch = 0;
    while ch < c8 {
        // SAFETY: ch + 8 <= c: 8 floats at ch of every tap row, weight row, bias and out, and
        // at k·c + ch of `wt` (checked above).
        unsafe {
            let p: [__m256; 4] = std::array::from_fn(|k| {
                _mm256_mul_ps(
                    _mm256_loadu_ps(taps[k].as_ptr().add(ch)),
                    _mm256_loadu_ps(wt.as_ptr().add(k * c + ch)),
                )
            });
            let mut o = _mm256_add_ps(_mm256_add_ps(p[0], p[1]), _mm256_add_ps(p[2], p[3]));
            if let Some(bv) = bias {
                o = _mm256_add_ps(o, _mm256_loadu_ps(bv.as_ptr().add(ch)));
            }
            if silu {
                o = silu8(o);
            }
            _mm256_storeu_ps(out.as_mut_ptr().add(ch), o);
        }
        ch += 8;
    }
    for ch in c8..c {
        out[ch] = channel(taps.map(|t| t[ch]), &w[4 * ch..4 * ch + 4], bias, ch, silu);
    }
}

/// One channel past the vector part, the vectors' arithmetic in scalars: the four inputs
/// (oldest first) times `wc`, summed as (p0 + p1) + (p2 + p3), plus the channel's bias, then
/// SiLU. Shared by the step and the row kernel, which must give the same bits.
#[inline]
fn channel(s: [f32; 4], wc: &[f32], bias: Option<&[f32]>, ch: usize, silu: bool) -> f32 {
    let acc = (s[0] * wc[0] + s[1] * wc[1]) + (s[2] * wc[2] + s[3] * wc[3]);
    let v = acc + bias.map_or(0.0, |b| b[ch]);
    if silu { crate::cpu::act::silu(v) } else { v }
}
