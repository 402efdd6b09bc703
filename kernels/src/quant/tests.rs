//! Quantization tests: bit-exact against gguf-py vectors (tools/gen_quant_vectors.py), error
//! bounds of the round trip, and typed errors for bad lengths.

use super::*;
use crate::testutil::Rng;

/// Vectors produced by gguf-py's `gguf.quants` (numpy port of ggml's reference).
const VECTORS: &[u8] = include_bytes!("../../tests/fixtures/quant_vectors.bin");

struct Record {
    ty: GgmlType,
    name: String,
    src: Option<Vec<f32>>,
    bytes: Vec<u8>,
    deq: Vec<f32>,
}

fn read_records() -> Vec<Record> {
    let mut p = 0usize;
    let mut take = |n: usize| {
        let s = &VECTORS[p..p + n];
        p += n;
        s
    };
    assert_eq!(take(4), b"WQV1");
    let u32_at = |s: &[u8]| u32::from_le_bytes(s.try_into().unwrap()) as usize;
    let floats = |s: &[u8]| -> Vec<f32> {
        s.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let count = u32_at(take(4));
    let mut out = Vec::new();
    for _ in 0..count {
        let h: Vec<usize> = (0..5).map(|_| u32_at(take(4))).collect();
        let (ty, n, nb, has_src, name_len) = (h[0], h[1], h[2], h[3], h[4]);
        let name = String::from_utf8(take(name_len).to_vec()).unwrap();
        let src = (has_src != 0).then(|| floats(take(4 * n)));
        let bytes = take(nb).to_vec();
        let deq = floats(take(4 * n));
        let ty = GgmlType::from_id(ty as u32).unwrap();
        out.push(Record {
            ty,
            name,
            src,
            bytes,
            deq,
        });
    }
    assert_eq!(p, VECTORS.len(), "trailing bytes in the vector file");
    out
}

#[test]
fn vectors_cover_every_type() {
    let recs = read_records();
    for ty in [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q4_K,
        GgmlType::Q6_K,
    ] {
        assert!(recs.iter().any(|r| r.ty == ty), "no vectors for {ty}");
    }
}

#[test]
fn quantize_is_bit_exact_with_ggml_reference() {
    let mut checked = 0;
    for r in read_records() {
        let Some(src) = &r.src else { continue };
        let got = quantize(r.ty, src).unwrap();
        assert_eq!(got.len(), r.bytes.len(), "{}", r.name);
        if let Some(i) = (0..got.len()).find(|&i| got[i] != r.bytes[i]) {
            panic!(
                "{}: byte {i} differs: got {:#04x}, want {:#04x}",
                r.name, got[i], r.bytes[i]
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} quantize records");
}

#[test]
fn dequantize_is_bit_exact_with_ggml_reference() {
    for r in read_records() {
        let mut got = vec![f32::NAN; r.deq.len()];
        dequantize(r.ty, &r.bytes, &mut got).unwrap();
        for (i, (g, w)) in got.iter().zip(&r.deq).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{} element {i}: {g} vs {w}",
                r.name
            );
        }
    }
}

/// ggml rounds x·id half away from zero; check the scalar rule on values where the
/// float32 product is exactly k + 0.5 (d = 1).
#[test]
fn q8_0_rounds_half_away_from_zero() {
    let mut x = [0.0f32; 32];
    x[0] = 127.0;
    x[1] = 0.5;
    x[2] = -0.5;
    x[3] = 2.5;
    x[4] = -2.5;
    x[5] = 126.5;
    let q = quantize(GgmlType::Q8_0, &x).unwrap();
    assert_eq!(&q[..2], &[0x00, 0x3c], "d = 1.0 in fp16");
    let qs: Vec<i8> = q[2..8].iter().map(|&b| b as i8).collect();
    assert_eq!(qs, [127, 1, -1, 3, -3, 127]);
}

/// Q4_0 keeps the sign of the largest-magnitude element: d = max / −8.
#[test]
fn q4_0_scale_sign_follows_max() {
    let mut x = [1.0f32; 32];
    x[7] = -16.0;
    let q = quantize(GgmlType::Q4_0, &x).unwrap();
    assert_eq!(f16_to_f32(u16::from_le_bytes([q[0], q[1]])), 2.0);
    assert_eq!(q[2 + 7] & 0x0f, 0, "−16·0.5 + 8.5 = 0.5 → 0");
    assert_eq!(q[2] & 0x0f, 9, "1·0.5 + 8.5 = 9");
    assert_eq!(q[2] >> 4, 9, "element 16 in the high nibble");
}

/// Round trip: |x − deq| ≤ 0.5·d + 127·|d − fp16(d)| (+ f32 rounding).
#[test]
fn q8_0_round_trip_error_bound() {
    let mut r = Rng::new(8);
    for scale in [1e-4f32, 1.0, 300.0] {
        let x: Vec<f32> = r.normal_vec(32 * 64).iter().map(|v| v * scale).collect();
        let q = quantize(GgmlType::Q8_0, &x).unwrap();
        let mut y = vec![0.0; x.len()];
        dequantize(GgmlType::Q8_0, &q, &mut y).unwrap();
        for (b, xb) in x.chunks(32).enumerate() {
            let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let d16 = f16_to_f32(f32_to_f16(d));
            let bound = 0.5 * d + 127.0 * (d - d16).abs() + amax * 2f32.powi(-20);
            for (j, &xv) in xb.iter().enumerate() {
                let err = (xv - y[b * 32 + j]).abs();
                assert!(err <= bound, "block {b} elt {j}: err {err} > {bound}");
            }
        }
    }
}

/// Round trip: |x − deq| ≤ 0.5·|d| (1·|d| where x·id > 7.5 saturates at 15) + 8·|d − fp16(d)|.
#[test]
fn q4_0_round_trip_error_bound() {
    let mut r = Rng::new(4);
    for scale in [1e-3f32, 1.0, 50.0] {
        let x: Vec<f32> = r.normal_vec(32 * 64).iter().map(|v| v * scale).collect();
        let q = quantize(GgmlType::Q4_0, &x).unwrap();
        let mut y = vec![0.0; x.len()];
        dequantize(GgmlType::Q4_0, &q, &mut y).unwrap();
        for (b, xb) in x.chunks(32).enumerate() {
            let max = xb
                .iter()
                .fold(0.0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
            let d = max / -8.0;
            let d16 = f16_to_f32(f32_to_f16(d));
            for (j, &xv) in xb.iter().enumerate() {
                let t = xv / d;
                let step = if t > 7.5 { 1.0 } else { 0.5 };
                let bound = step * d.abs() + 8.0 * (d - d16).abs() + max.abs() * 2f32.powi(-20);
                let err = (xv - y[b * 32 + j]).abs();
                assert!(err <= bound, "block {b} elt {j}: err {err} > {bound}");
            }
        }
    }
}

#[test]
fn f16_and_bf16_round_trip_error_bounds() {
    let mut r = Rng::new(16);
    let x: Vec<f32> = r.normal_vec(1000).iter().map(|v| v * 100.0).collect();
    for (ty, rel) in [
        (GgmlType::F16, 2f32.powi(-11)),
        (GgmlType::BF16, 2f32.powi(-8)),
    ] {
        let q = quantize(ty, &x).unwrap();
        assert_eq!(q.len(), 2 * x.len());
        let mut y = vec![0.0; x.len()];
        dequantize(ty, &q, &mut y).unwrap();
        for (a, b) in x.iter().zip(&y) {
            // Half an ulp relative (normal range; these values are far from subnormals).
            assert!((a - b).abs() <= rel * a.abs(), "{ty}: {a} → {b}");
        }
    }
    let q = quantize(GgmlType::F32, &x).unwrap();
    let mut y = vec![0.0; x.len()];
    dequantize(GgmlType::F32, &q, &mut y).unwrap();
    assert_eq!(x, y);
}

#[test]
fn bf16_matches_ggml_on_special_values() {
    assert_eq!(f32_to_bf16(1.0), 0x3f80);
    assert_eq!(f32_to_bf16(1.0 + 2f32.powi(-8)), 0x3f80, "tie → even");
    assert_eq!(
        f32_to_bf16(1.0 + 3.0 * 2f32.powi(-8)),
        0x3f82,
        "tie → even (up)"
    );
    assert_eq!(f32_to_bf16(f32::MAX), 0x7f80, "overflow → inf");
    assert_eq!(
        f32_to_bf16(f32::from_bits(0x7f80_0001)),
        0x7fc0,
        "sNaN → qNaN"
    );
    assert_eq!(f32_to_bf16(f32::from_bits(0xff80_0001)), 0xffc0);
    assert_eq!(bf16_to_f32(0xc000), -2.0);
}

#[test]
fn q4_k_scale_min_unpacking() {
    // Sub-blocks 0..3: low 6 bits of bytes 0..3 / 4..7. Sub-blocks 4..7: nibbles of bytes 8..11
    // plus the top 2 bits of bytes 0..3 (scale) / 4..7 (min).
    let q = [0b11_000001, 2, 3, 4, 0b01_000101, 6, 7, 8, 0xa9, 0, 0, 0];
    assert_eq!(get_scale_min_k4(0, &q), (1, 5));
    assert_eq!(get_scale_min_k4(3, &q), (4, 8));
    assert_eq!(
        get_scale_min_k4(4, &q),
        (0x9 | (0b11 << 4), 0xa | (0b01 << 4))
    );
    assert_eq!(get_scale_min_k4(5, &q), (0, 0));
}

#[test]
fn q6_k_hand_computed_block() {
    // d = 0.5, every scale 2, ql = 0x21 (low nibble 1, high 2), qh = 0b11_10_01_00:
    // q1 = 1|0<<4 = 1, q2 = 1|1<<4 = 17, q3 = 2|2<<4 = 34, q4 = 2|3<<4 = 50; minus 32, times 1.0.
    let mut b = [0u8; 210];
    b[..128].fill(0x21);
    b[128..192].fill(0b11_10_01_00);
    b[192..208].fill(2);
    b[208..].copy_from_slice(&f32_to_f16(0.5).to_le_bytes());
    let mut y = [0.0f32; 256];
    dequantize_block_q6_k(&b, &mut y);
    for half in 0..2 {
        for l in 0..32 {
            let o = 128 * half + l;
            assert_eq!(
                [y[o], y[o + 32], y[o + 64], y[o + 96]],
                [-31.0, -15.0, 2.0, 18.0]
            );
        }
    }
}

#[test]
fn length_errors_are_typed() {
    let x = [0.0f32; 33];
    assert_eq!(
        quantize(GgmlType::Q8_0, &x),
        Err(QuantError::NotBlockMultiple {
            ty: GgmlType::Q8_0,
            len: 33,
            block: 32
        })
    );
    assert!(matches!(
        quantize(GgmlType::Q4_K, &[0.0; 256]),
        Err(QuantError::Unsupported { .. })
    ));
    let mut small = [0u8; 33];
    assert!(matches!(
        quantize_into(GgmlType::Q8_0, &x[..32], &mut small),
        Err(QuantError::DstLength {
            expected: 34,
            actual: 33,
            ..
        })
    ));
    let mut out = [0.0f32; 256];
    assert!(matches!(
        dequantize(GgmlType::Q6_K, &[0u8; 209], &mut out),
        Err(QuantError::NotWholeBlocks { .. })
    ));
    assert!(matches!(
        dequantize(GgmlType::Q4_K, &[0u8; 144], &mut out[..255]),
        Err(QuantError::DstLength { .. })
    ));
    assert!(matches!(
        dequantize(GgmlType::Q5_K, &[0u8; 176], &mut out),
        Err(QuantError::Unsupported { .. })
    ));
    // Empty input is zero blocks, not an error.
    assert_eq!(quantize(GgmlType::Q4_0, &[]), Ok(vec![]));
    assert_eq!(dequantize(GgmlType::Q4_0, &[], &mut []), Ok(()));
}
