//! AVX-512 VBMI int8 matvec: one `vpermt2b` lines up the quants of several stored blocks (and
//! another their fp16 scales, one per int32 lane) straight from the file's 18- or 34-byte
//! blocks, so each `vpdpbusd` covers 2 (Q8_0) or 4 (Q4_0) blocks of a row and the float work
//! runs once per 512-bit vector instead of once per block. No repacking: the weights stay
//! the mapped bytes. Blocks left over (fewer than a group) take the 256-bit VNNI step of
//! q8.rs (`block_q8_0` / `block_q4_0`).

use std::arch::x86_64::*;

use super::q8::{block_q4_0, block_q8_0, nibble_offset};
use crate::cpu::matvec_q8::Q8Row;
use crate::cpu::x86::avx2::{ahead, hsum4, prefetch, q8::blocks};
use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0};

/// Byte indices for `_mm512_permutex2var_epi8(lo, idx, hi)` where `lo` holds the group's
/// bytes `0..64` and `hi` its bytes `tail..tail + 16`: `at(o)` selects group byte `o`.
const fn at(o: usize, tail: usize) -> u8 {
    if o < 64 {
        o as u8
    } else {
        (64 + o - tail) as u8
    }
}

/// Output byte `i` = source byte `(i / run)·stride + off + i % run`: runs of `run` bytes
/// taken every `stride` bytes.
const fn runs(stride: usize, off: usize, run: usize, tail: usize) -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = at((i / run) * stride + off + i % run, tail);
        i += 1;
    }
    t
}

/// The fp16 scale at the start of block `lane / per` for each of the 16 lanes (bytes 0..32).
const fn scales(stride: usize, per: usize, tail: usize) -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = at(((i / 2) % 16 / per) * stride + i % 2, tail);
        i += 1;
    }
    t
}

#[target_feature(enable = "avx512f")]
#[inline]
fn idx(t: &[u8; 64]) -> __m512i {
    // SAFETY: 64 readable bytes.
    unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }
}

/// The group of blocks at `p` as the two permute sources: its bytes `0..64` and
/// `tail..tail + 16` (both inside the group, so nothing past the row is read).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn group(p: *const u8, tail: usize) -> (__m512i, __m512i) {
    // SAFETY: the caller guarantees `tail + 16` readable bytes at `p` (tail + 16 = group size).
    unsafe {
        (
            _mm512_loadu_si512(p.cast()),
            _mm512_zextsi128_si512(_mm_loadu_si128(p.add(tail).cast())),
        )
    }
}

/// Sum of the lanes of four 512-bit accumulators (plus four 256-bit leftovers).
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
#[inline]
fn finish(acc: [__m512; 4], rest: [__m256; 4]) -> [f32; 4] {
    let mut v = rest;
    for k in 0..4 {
        let lo = _mm512_castps512_ps256(acc[k]);
        let hi = _mm256_castsi256_ps(_mm512_extracti64x4_epi64::<1>(_mm512_castps_si512(acc[k])));
        v[k] = _mm256_add_ps(v[k], _mm256_add_ps(lo, hi));
    }
    hsum4(v)
}

/// Q8_0, 2 blocks (68 bytes) per step. `w + 128` (one `xor`) is the unsigned operand;
/// the `128·Σx` it adds is taken off by starting each lane at `−128·Σx` (shared by the rows).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c")]
pub(super) fn dot4_q8_0(r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
    const G: usize = 2 * Q8_0_BYTES;
    const TAIL: usize = G - 16;
    const Q: [u8; 64] = runs(Q8_0_BYTES, 2, 32, TAIL);
    const S: [u8; 64] = scales(Q8_0_BYTES, 8, TAIL);
    const D: [u32; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
    let nb = blocks(&r, &x, Q8_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let (qi, si) = (idx(&Q), idx(&S));
    // SAFETY: 16 readable u32s.
    let di = unsafe { _mm512_loadu_si512(D.as_ptr().cast()) };
    let flip = _mm512_set1_epi8(-128);
    let zero = _mm512_setzero_si512();
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut g = 0;
    while g + 2 <= nb {
        // SAFETY: blocks g, g+1 exist (g + 2 ≤ nb): 64 activation bytes and 2 scales at g,
        // and 68 bytes of each row at g·34 (checked by `blocks`).
        unsafe {
            let xq = _mm512_loadu_si512(x.qs.as_ptr().add(g * QK8_0).cast());
            let d2 = _mm_castsi128_ps(_mm_loadl_epi64(x.d.as_ptr().add(g).cast()));
            let dx = _mm512_permutexvar_ps(di, _mm512_castps128_ps512(d2));
            let corr = _mm512_dpbusd_epi32(zero, flip, _mm512_sub_epi8(zero, xq));
            for k in 0..4 {
                let blk = p[k].add(g * Q8_0_BYTES);
                prefetch(blk, ah);
                prefetch(blk.add(64), ah);
                let (lo, hi) = group(blk, TAIL);
                let wq = _mm512_xor_si512(_mm512_permutex2var_epi8(lo, qi, hi), flip);
                let i = _mm512_dpbusd_epi32(corr, wq, xq);
                let s = _mm512_castsi512_si256(_mm512_permutex2var_epi8(lo, si, hi));
                let dd = _mm512_mul_ps(_mm512_cvtph_ps(s), dx);
                acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), dd, acc[k]);
            }
        }
        g += 2;
    }
    let mut rest = [_mm256_setzero_ps(); 4];
    if g < nb {
        // SAFETY: block g exists; as above for one block.
        unsafe {
            let xq = _mm256_loadu_si256(x.qs.as_ptr().add(g * QK8_0).cast());
            let dx = _mm256_set1_ps(*x.d.get_unchecked(g));
            for k in 0..4 {
                rest[k] = block_q8_0(p[k].add(g * Q8_0_BYTES), xq, dx, rest[k]);
            }
        }
    }
    finish(acc, rest)
}

/// Q4_0, 4 blocks (72 bytes) per step: the 64 quant bytes of 4 blocks in one vector, the low
/// nibbles against the activation's first halves and the high nibbles against the second
/// halves (each lined up once per step, shared by the rows); lanes start at −8·Σx (the
/// nibble offset).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c")]
pub(super) fn dot4_q4_0(r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
    const G: usize = 4 * Q4_0_BYTES;
    const TAIL: usize = G - 16;
    const Q: [u8; 64] = runs(Q4_0_BYTES, 2, 16, TAIL);
    const S: [u8; 64] = scales(Q4_0_BYTES, 4, TAIL);
    // The 128 activation bytes of 4 blocks (two vectors): first halves, then second halves.
    const XL: [u8; 64] = runs(QK8_0, 0, 16, 64);
    const XH: [u8; 64] = runs(QK8_0, 16, 16, 64);
    const D: [u32; 16] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3];
    let nb = blocks(&r, &x, Q4_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let (qi, si, xli, xhi) = (idx(&Q), idx(&S), idx(&XL), idx(&XH));
    // SAFETY: 16 readable u32s.
    let di = unsafe { _mm512_loadu_si512(D.as_ptr().cast()) };
    let m4 = _mm512_set1_epi8(0x0f);
    let (zero, eights) = (_mm512_setzero_si512(), _mm512_set1_epi8(8));
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut g = 0;
    while g + 4 <= nb {
        // SAFETY: blocks g..g+4 exist: 128 activation bytes and 4 scales at g, and 72 bytes
        // of each row at g·18 (checked by `blocks`).
        unsafe {
            let x0 = _mm512_loadu_si512(x.qs.as_ptr().add(g * QK8_0).cast());
            let x1 = _mm512_loadu_si512(x.qs.as_ptr().add(g * QK8_0 + 64).cast());
            let xl = _mm512_permutex2var_epi8(x0, xli, x1);
            let xh = _mm512_permutex2var_epi8(x0, xhi, x1);
            let d4 = _mm_loadu_ps(x.d.as_ptr().add(g));
            let dx = _mm512_permutexvar_ps(di, _mm512_castps128_ps512(d4));
            let corr = _mm512_dpbusd_epi32(zero, eights, _mm512_sub_epi8(zero, xl));
            let corr = _mm512_dpbusd_epi32(corr, eights, _mm512_sub_epi8(zero, xh));
            for k in 0..4 {
                let blk = p[k].add(g * Q4_0_BYTES);
                prefetch(blk, ah);
                prefetch(blk.add(64), ah);
                let (lo, hi) = group(blk, TAIL);
                let q = _mm512_permutex2var_epi8(lo, qi, hi);
                let wl = _mm512_and_si512(q, m4);
                let wh = _mm512_and_si512(_mm512_srli_epi16::<4>(q), m4);
                let i = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(corr, wl, xl), wh, xh);
                let s = _mm512_castsi512_si256(_mm512_permutex2var_epi8(lo, si, hi));
                let dd = _mm512_mul_ps(_mm512_cvtph_ps(s), dx);
                acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), dd, acc[k]);
            }
        }
        g += 4;
    }
    let mut rest = [_mm256_setzero_ps(); 4];
    while g < nb {
        // SAFETY: block g exists; as above for one block.
        unsafe {
            let xq = _mm256_loadu_si256(x.qs.as_ptr().add(g * QK8_0).cast());
            let dx = _mm256_set1_ps(*x.d.get_unchecked(g));
            let corr = nibble_offset(xq);
            for k in 0..4 {
                rest[k] = block_q4_0(p[k].add(g * Q4_0_BYTES), xq, corr, dx, rest[k]);
            }
        }
        g += 1;
    }
    finish(acc, rest)
}
