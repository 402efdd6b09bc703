//! Q4_K, Q6_K and BF16 weights (types the converter does not write, common in community files):
//! a synthetic Llama with 256-wide rows stored in them computes exactly what its
//! dequantized-to-f32 twin computes, the embedding rows being dequantized on lookup.

use weft::gguf::{GgmlType, Gguf, GgufWriter};
use weft::parity::decode_logits;
use weft_kernels::quant::{f32_to_bf16, f32_to_f16};
use weft_tests::{Rng, dequantized_twin, max_rel_rows, model_from_bytes};

const E: usize = 256;
const V: usize = 40;

fn q4_k(rows: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rows * E / 256 {
        out.extend(f32_to_f16(3e-4).to_le_bytes()); // d
        out.extend(f32_to_f16(3e-3).to_le_bytes()); // dmin
        out.extend((0..12 + 128).map(|_| rng.next_u64() as u8)); // scales, nibbles
    }
    out
}

fn q6_k(rows: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rows * E / 256 {
        out.extend((0..128 + 64 + 16).map(|_| rng.next_u64() as u8)); // ql, qh, scales
        out.extend(f32_to_f16(1e-4).to_le_bytes()); // d
    }
    out
}

fn bf16(n: usize, rng: &mut Rng) -> Vec<u8> {
    (0..n)
        .flat_map(|_| f32_to_bf16(rng.unit() * 0.1).to_le_bytes())
        .collect()
}

fn norm(rng: &mut Rng) -> Vec<f32> {
    (0..E).map(|_| 1.0 + 0.1 * rng.unit()).collect()
}

/// Two Llama layers: 4 heads of 64 (2 KV heads), FFN 256, vocabulary 40.
fn synthetic_llama() -> Vec<u8> {
    let mut rng = Rng(7);
    let mut w = GgufWriter::new();
    w.add_str("general.architecture", "llama").unwrap();
    for (k, v) in [
        ("embedding_length", E),
        ("block_count", 2),
        ("feed_forward_length", E),
        ("context_length", 512),
    ] {
        w.add_u32(&format!("llama.{k}"), v as u32).unwrap();
    }
    w.add_u32("llama.attention.head_count", 4).unwrap();
    w.add_u32("llama.attention.head_count_kv", 2).unwrap();
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
        .unwrap();
    w.add_f32("llama.rope.freq_base", 10000.0).unwrap();
    let dims = |rows: usize| vec![E as u64, rows as u64];
    w.add_tensor(
        "token_embd.weight",
        &dims(V),
        GgmlType::Q6_K,
        q6_k(V, &mut rng),
    )
    .unwrap();
    for i in 0..2 {
        let b = format!("blk.{i}");
        w.add_tensor_f32(
            &format!("{b}.attn_norm.weight"),
            &[E as u64],
            &norm(&mut rng),
        )
        .unwrap();
        w.add_tensor_f32(
            &format!("{b}.ffn_norm.weight"),
            &[E as u64],
            &norm(&mut rng),
        )
        .unwrap();
        for (name, rows) in [
            ("attn_q", E),
            ("attn_k", 128),
            ("attn_v", 128),
            ("attn_output", E),
            ("ffn_gate", E),
            ("ffn_up", E),
        ] {
            w.add_tensor(
                &format!("{b}.{name}.weight"),
                &dims(rows),
                GgmlType::Q4_K,
                q4_k(rows, &mut rng),
            )
            .unwrap();
        }
        w.add_tensor(
            &format!("{b}.ffn_down.weight"),
            &dims(E),
            GgmlType::BF16,
            bf16(E * E, &mut rng),
        )
        .unwrap();
    }
    w.add_tensor_f32("output_norm.weight", &[E as u64], &norm(&mut rng))
        .unwrap();
    w.add_tensor("output.weight", &dims(V), GgmlType::Q6_K, q6_k(V, &mut rng))
        .unwrap();
    w.into_bytes().unwrap()
}

#[test]
fn k_quant_and_bf16_weights_compute_exactly_their_dequantized_values() {
    let bytes = synthetic_llama();
    let twin = dequantized_twin(&Gguf::from_bytes(bytes.clone()).unwrap());
    let (quant, exact) = (model_from_bytes(bytes), model_from_bytes(twin));
    let tokens = Rng(3).tokens(24, V);
    let q = decode_logits(&quant, &tokens).unwrap();
    let e = decode_logits(&exact, &tokens).unwrap();
    assert!(q.iter().all(|x| x.is_finite()));
    let spread = q.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(spread > 1e-3, "logits carry signal ({spread})");
    let rel = max_rel_rows(&q, &e, V);
    assert!(rel < 1e-6, "Q4_K/Q6_K/BF16 model vs f32 twin: {rel:e}");
}
