//! Quantized files: the engine computes exactly what the stored blocks encode (a quantized model
//! matches its dequantized-to-f32 twin), and every fixture stays within the measured error
//! budget of its storage type.

use weft::convert::OutType;
use weft::gguf::Gguf;
use weft::parity::{check_fixture, decode_logits, prefill_logits};
use weft_tests::{
    case_name, dequantized_twin, gguf_bytes, hf_cases, max_rel_rows, model_from_bytes, reference,
};

const QUANTIZED: [OutType; 3] = [OutType::F16, OutType::Q8_0, OutType::Q4_0];

#[test]
fn quantized_models_compute_exactly_their_dequantized_weights() {
    for dir in hf_cases() {
        let case = case_name(&dir);
        let tokens = reference(&case).tokens;
        for ty in QUANTIZED {
            let bytes = gguf_bytes(&case, ty);
            let twin = dequantized_twin(&Gguf::from_bytes(bytes.clone()).unwrap());
            let (quant, exact) = (model_from_bytes(bytes), model_from_bytes(twin));
            let v = quant.config().n_vocab;
            let q = decode_logits(&quant, &tokens).unwrap();
            let e = decode_logits(&exact, &tokens).unwrap();
            let decode = max_rel_rows(&q, &e, v);
            // Prefill against the twin's prefill: prefill attention sums in blocks, in another
            // order than decode (kernels' attn_block), which is not what this test is about.
            let prefill = max_rel_rows(
                &prefill_logits(&quant, &tokens, 7).unwrap(),
                &prefill_logits(&exact, &tokens, 7).unwrap(),
                v,
            );
            eprintln!(
                "{case:<10} {ty:<5} vs dequantized twin: decode {decode:.1e} prefill {prefill:.1e}"
            );
            assert!(
                decode < 1e-6 && prefill < 1e-6,
                "{case} {ty}: {decode:e} {prefill:e}"
            );
        }
    }
}

#[test]
fn quantized_fixtures_stay_within_their_budgets() {
    for dir in hf_cases() {
        for ty in QUANTIZED {
            let r = check_fixture(&dir, ty).unwrap();
            eprintln!(
                "{:<10} {:<5} decode {:.3e} prefill {:.3e} budget {:.0e}",
                r.case, r.ty, r.decode_max_rel, r.prefill_max_rel, r.tolerance
            );
            assert!(r.pass, "{r:?}");
        }
    }
}
