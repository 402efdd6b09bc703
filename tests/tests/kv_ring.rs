//! Bounded KV rings (StreamingLLM): with `kv_window` smaller than the stream, every attention
//! layer sees exactly the `kv_sinks` first positions plus the last `kv_window` ones.
//!
//! Checked against an independent brute-force Llama (f64, whole sequence at once, written here
//! from the GGUF weights) whose attention mask is that explicit position set. With the full causal
//! mask the brute force reproduces transformers' logits, which validates it.

use weft::convert::OutType;
use weft::parity::rel_l2;
use weft::{Input, KvType, Model, SessionConfig};
use weft_tests::{Rng, load, reference};

/// Naive Llama forward over a whole sequence; `keep(t, s)`: may position t attend to s ≤ t?
fn brute_force(
    model: &Model,
    tokens: &[u32],
    keep: impl Fn(usize, usize) -> bool,
) -> Vec<Vec<f64>> {
    let c = model.config();
    let a = c.attn.as_ref().unwrap();
    let (e, hd, heads, theta) = (c.n_embd, a.head_dim, a.n_head, a.rope.unwrap().theta as f64);
    let g = model.gguf();
    let w = |name: &str| -> (Vec<f64>, usize) {
        let info = g.tensor(name).unwrap_or_else(|| panic!("{name}"));
        let mut v = vec![0.0f32; info.n_elements()];
        weft_kernels::quant::dequantize(info.ty, g.tensor_bytes(info), &mut v).unwrap();
        (
            v.into_iter().map(f64::from).collect(),
            info.dims[0] as usize,
        )
    };
    let mv = |m: &(Vec<f64>, usize), x: &[f64]| -> Vec<f64> {
        m.0.chunks(m.1)
            .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect()
    };
    let norm = |x: &[f64], wt: &[f64]| -> Vec<f64> {
        let r = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64 + c.norm_eps as f64).sqrt();
        x.iter().zip(wt).map(|(v, w)| v / r * w).collect()
    };
    let rope = |x: &mut [f64], pos: usize| {
        for head in x.chunks_mut(hd) {
            for i in 0..hd / 2 {
                let angle = pos as f64 * theta.powf(-2.0 * i as f64 / hd as f64);
                let (s, co) = angle.sin_cos();
                let (p, q) = (head[2 * i], head[2 * i + 1]); // adjacent pairs (llama.cpp permutation)
                head[2 * i] = p * co - q * s;
                head[2 * i + 1] = q * co + p * s;
            }
        }
    };
    let embd = w("token_embd.weight");
    let mut h: Vec<Vec<f64>> = tokens
        .iter()
        .map(|&t| embd.0[t as usize * e..(t as usize + 1) * e].to_vec())
        .collect();
    for l in 0..c.n_layer {
        let p = |n: &str| format!("blk.{l}.{n}.weight");
        let (wq, wk, wv, wo) = (
            w(&p("attn_q")),
            w(&p("attn_k")),
            w(&p("attn_v")),
            w(&p("attn_output")),
        );
        let xs: Vec<Vec<f64>> = h.iter().map(|x| norm(x, &w(&p("attn_norm")).0)).collect();
        let (mut q, mut k, v): (Vec<_>, Vec<_>, Vec<_>) = (
            xs.iter().map(|x| mv(&wq, x)).collect(),
            xs.iter().map(|x| mv(&wk, x)).collect(),
            xs.iter().map(|x| mv(&wv, x)).collect(),
        );
        for t in 0..tokens.len() {
            rope(&mut q[t], t);
            rope(&mut k[t], t);
        }
        let rep = heads / (k[0].len() / hd);
        for t in 0..tokens.len() {
            let mut out = vec![0.0; heads * hd];
            for hq in 0..heads {
                let kvh = hq / rep;
                let qh = &q[t][hq * hd..(hq + 1) * hd];
                let seen: Vec<usize> = (0..=t).filter(|&s| keep(t, s)).collect();
                let scores: Vec<f64> = seen
                    .iter()
                    .map(|&s| {
                        qh.iter()
                            .zip(&k[s][kvh * hd..(kvh + 1) * hd])
                            .map(|(a, b)| a * b)
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                for (&s, sc) in seen.iter().zip(&scores) {
                    let p = (sc - max).exp() / z;
                    for d in 0..hd {
                        out[hq * hd + d] += p * v[s][kvh * hd + d];
                    }
                }
            }
            h[t].iter_mut()
                .zip(mv(&wo, &out))
                .for_each(|(a, b)| *a += b);
        }
        let (gate, up, down) = (w(&p("ffn_gate")), w(&p("ffn_up")), w(&p("ffn_down")));
        for x in h.iter_mut() {
            let n = norm(x, &w(&p("ffn_norm")).0);
            let act: Vec<f64> = mv(&gate, &n)
                .iter()
                .zip(mv(&up, &n))
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            x.iter_mut().zip(mv(&down, &act)).for_each(|(a, b)| *a += b);
        }
    }
    let output = if g.tensor("output.weight").is_some() {
        w("output.weight")
    } else {
        embd
    };
    h.iter()
        .map(|x| mv(&output, &norm(x, &w("output_norm.weight").0)))
        .collect()
}

fn as_f32(rows: &[Vec<f64>]) -> Vec<Vec<f32>> {
    rows.iter()
        .map(|r| r.iter().map(|&v| v as f32).collect())
        .collect()
}

#[test]
fn the_brute_force_reference_matches_transformers() {
    for case in ["llama_a", "llama_b"] {
        let (model, r) = (load(case, OutType::F32), reference(case));
        let expected = as_f32(&brute_force(&model, &r.tokens, |_, _| true));
        for (t, row) in expected.iter().enumerate() {
            assert!(rel_l2(row, r.row(t)) < 1e-5, "{case} t={t}");
        }
    }
}

#[test]
fn attention_sees_exactly_the_sinks_and_the_last_window() {
    let (sinks, window) = (2, 5);
    let streaming = |t: usize, s: usize| s < sinks || s + window > t;
    for case in ["llama_a", "llama_b"] {
        let model = load(case, OutType::F32);
        let tokens = Rng(21).tokens(48, model.config().n_vocab);
        let expected = as_f32(&brute_force(&model, &tokens, streaming));
        let full = as_f32(&brute_force(&model, &tokens, |_, _| true));
        let config = |chunk| SessionConfig {
            kv_window: window,
            kv_sinks: sinks,
            prefill_chunk: chunk,
            logits_all: true,
            ..SessionConfig::default()
        };

        let mut s = model.session(config(1)).unwrap();
        let size = s.state_size();
        for (t, &tok) in tokens.iter().enumerate() {
            let logits = s.step(Input::Token(tok)).unwrap();
            assert!(rel_l2(logits, &expected[t]) < 1e-4, "{case} decode t={t}");
            if t > sinks + window {
                assert!(
                    rel_l2(logits, &full[t]) > 1e-3,
                    "{case} t={t}: the window must matter"
                );
            }
        }
        let mut kept: Vec<u64> = s.kv_ring(0).unwrap().positions().to_vec();
        kept.sort();
        assert_eq!(
            kept,
            [0, 1, 43, 44, 45, 46, 47],
            "{case}: ring holds sinks + last window"
        );
        assert_eq!(s.state_size(), size, "memory does not grow");

        let v = model.config().n_vocab;
        let mut p = model.session(config(9)).unwrap(); // chunks longer than the window
        let mut all = vec![0.0; tokens.len() * v];
        p.prefill_all(&tokens, &mut all).unwrap();
        for (t, row) in all.chunks(v).enumerate() {
            assert!(rel_l2(row, &expected[t]) < 1e-4, "{case} prefill t={t}");
        }
    }
}

/// An f16 ring: the same positions, keys and values rounded once to f16. Its logits stay within
/// that rounding of the brute force, differ from the f32 ring's (the type is honoured), its
/// prefill gives its decode's logits, and its state blob restores it exactly.
#[test]
fn an_f16_ring_rounds_once_and_keeps_every_other_invariant() {
    let (sinks, window) = (2, 5);
    let streaming = |t: usize, s: usize| s < sinks || s + window > t;
    for case in ["llama_a", "llama_b"] {
        let model = load(case, OutType::F32);
        let tokens = Rng(22).tokens(40, model.config().n_vocab);
        let expected = as_f32(&brute_force(&model, &tokens, streaming));
        let config = |chunk, kv_type| SessionConfig {
            kv_window: window,
            kv_sinks: sinks,
            kv_type,
            prefill_chunk: chunk,
            logits_all: true,
            ..SessionConfig::default()
        };
        let mut half = model.session(config(1, KvType::F16)).unwrap();
        let mut full = model.session(config(1, KvType::F32)).unwrap();
        assert!(half.state_size() < full.state_size());
        let (mut worst, mut apart) = (0.0f64, 0.0f64);
        let mut decoded = Vec::new();
        let mut blob = vec![0u8; half.state_size()];
        for (t, &tok) in tokens.iter().enumerate() {
            if t == 20 {
                half.save_state(&mut blob).unwrap();
            }
            let h = half.step(Input::Token(tok)).unwrap().to_vec();
            let f = full.step(Input::Token(tok)).unwrap();
            worst = worst.max(rel_l2(&h, &expected[t]));
            apart = apart.max(rel_l2(&h, f));
            decoded.push(h);
        }
        // f16 keeps 11 significant bits: ~2.4e-4 relative per element.
        assert!(worst < 5e-3, "{case}: f16 ring vs reference {worst:e}");
        assert!(apart > 1e-5, "{case}: the f16 ring rounds ({apart:e})");

        let v = model.config().n_vocab;
        let mut p = model.session(config(9, KvType::F16)).unwrap();
        let mut all = vec![0.0; tokens.len() * v];
        p.prefill_all(&tokens, &mut all).unwrap();
        // Prefill attends in blocks (kernels' attn_block), summing in another order than decode:
        // up to 1.3e-5 apart here.
        for (t, row) in all.chunks(v).enumerate() {
            let rel = rel_l2(row, &decoded[t]);
            assert!(rel < 1e-4, "{case} f16 prefill t={t}: {rel:e}");
        }

        let mut restored = model.session(config(1, KvType::F16)).unwrap();
        restored.load_state(&blob).unwrap();
        for (t, &tok) in tokens.iter().enumerate().skip(20) {
            let logits = restored.step(Input::Token(tok)).unwrap();
            assert_eq!(logits, &decoded[t][..], "{case}: restored f16 ring, t={t}");
        }
        let other = full.load_state(&blob).unwrap_err();
        assert!(
            matches!(other, weft::SessionError::StateSessionConfig),
            "{case}: an f16 blob into an f32 session: {other}"
        );
    }
}
