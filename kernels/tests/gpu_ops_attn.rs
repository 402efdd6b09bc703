//! GPU RoPE, KV-ring attention with sinks, MoE routing, argmax and top-k sampling against the
//! CPU kernels (and the CPU sampler's chain) on every tier. Tolerance 2e-5 · max|cpu| + 1e-5;
//! sampled ids must be equal (draws within 1e-4 of a cumulative boundary are skipped).
#![cfg(feature = "gpu")]

mod gpu_common;

use gpu_common::{Harness, Rng, close, contexts, dense, step};
use half::f16;
use weft_kernels::cpu::{attn, moe, rope};
use weft_kernels::gpu::ops::{self, AttnShape};
use weft_kernels::gpu::{GpuContext, Recorder, Step, View};

#[test]
fn rope_both_layouts_match_cpu_at_large_positions() {
    for ctx in contexts() {
        let (heads, hd, n, pos0) = (3, 64, 2, 70_000);
        let mut r = Rng::new(1);
        let x = r.vec(n * heads * hd);
        let inv: Vec<f32> = (0..hd / 2)
            .map(|i| rope::rope_inv_freq(i, hd, 10_000.0))
            .collect();
        for (neox, mode) in [
            (true, rope::RopeMode::Neox),
            (false, rope::RopeMode::Normal),
        ] {
            let mut h = Harness::new(ctx, n * heads * hd, n);
            h.put(0, &x);
            let ib = h.buffer(&inv);
            h.run(step(n, pos0), |rec| {
                ops::rope(rec, dense(0, heads * hd), heads, hd, &ib, neox)
            });
            let got = h.get(0, n * heads * hd);
            for t in 0..n {
                let mut want = x[t * heads * hd..(t + 1) * heads * hd].to_vec();
                rope::rope_inplace(&mut want, heads, hd, hd, (pos0 + t) as u32, 10_000.0, mode);
                close(
                    "rope",
                    &got[t * heads * hd..(t + 1) * heads * hd],
                    &want,
                    2e-5,
                    2e-5,
                );
            }
        }
    }
}

/// A query and a key rotated in one dispatch (`rope2`) equal two `rope` dispatches, for
/// different head counts, a one-row key beside a per-token query, both layouts.
#[test]
fn rope_pair_equals_two_ropes() {
    for ctx in contexts() {
        let (hq, hk, hd, n, pos0) = (5, 2, 48, 3, 123);
        let mut r = Rng::new(2);
        let (q, k) = (r.vec(n * hq * hd), r.vec(hk * hd));
        let inv: Vec<f32> = (0..hd / 2)
            .map(|i| rope::rope_inv_freq(i, hd, 500_000.0))
            .collect();
        for neox in [true, false] {
            // Arena: q | k (paired) | q | k (one by one); k is a single-row view.
            let (qo, ko) = (0, n * hq * hd);
            let (q2o, k2o) = (ko + hk * hd, ko + hk * hd + n * hq * hd);
            let mut h = Harness::new(ctx, k2o + hk * hd, n);
            for (a, b) in [(qo, ko), (q2o, k2o)] {
                h.put(a, &q);
                h.put(b, &k);
            }
            let ib = h.buffer(&inv);
            let kv = |o| View::one(o, hk * hd);
            h.run(step(n, pos0), |rec| {
                ops::rope2(rec, (dense(qo, hq * hd), hq), (kv(ko), hk), hd, &ib, neox)?;
                ops::rope(rec, dense(q2o, hq * hd), hq, hd, &ib, neox)?;
                ops::rope(rec, kv(k2o), hk, hd, &ib, neox)
            });
            let what = format!("rope2 neox={neox} {:?}", ctx.tier);
            assert_eq!(h.get(qo, n * hq * hd), h.get(q2o, n * hq * hd), "{what}: q");
            assert_eq!(h.get(ko, hk * hd), h.get(k2o, hk * hd), "{what}: k");
            assert_ne!(h.get(ko, hk * hd), k, "{what}: k rotated");
        }
    }
}

/// The CPU side: a StreamingLLM ring (sinks + window) as the runtime keeps it, its elements
/// rounded through f16 when `f16` (held here as the f32 values they round to).
struct Ring {
    sinks: usize,
    window: usize,
    width: usize,
    f16: bool,
    k: Vec<f32>,
    v: Vec<f32>,
    filled: usize,
}

impl Ring {
    fn append(&mut self, pos: usize, k: &[f32], v: &[f32]) {
        let s = if pos < self.sinks {
            pos
        } else {
            self.sinks + (pos - self.sinks) % self.window
        };
        let row = s * self.width..(s + 1) * self.width;
        let keep = |x: &f32| {
            if self.f16 {
                f16::from_f32(*x).to_f32()
            } else {
                *x
            }
        };
        let (k, v): (Vec<f32>, Vec<f32>) =
            (k.iter().map(keep).collect(), v.iter().map(keep).collect());
        self.k[row.clone()].copy_from_slice(&k);
        self.v[row].copy_from_slice(&v);
        self.filled = self.filled.max(s + 1);
    }
}

/// The ring's keys as f32 values: its words as they are (f32), or each word's two f16 halves.
fn ring_keys(words: &[f32], s: AttnShape) -> Vec<f32> {
    let n = (s.sinks + s.window) * s.kv_heads * s.head_dim;
    if !s.kv_f16 {
        return words[..n].to_vec();
    }
    words[..n / 2]
        .iter()
        .flat_map(|w| {
            let b = w.to_bits();
            [b as u16, (b >> 16) as u16].map(|h| f16::from_bits(h).to_f32())
        })
        .collect()
}

/// Runs of `ns` tokens through `ops::attend` against the CPU ring and kernel. A run of one
/// token alternates between a list recorded for one row (the split kernels attend1 +
/// attend_merge) and one recorded for `chunk` rows (attend.wgsl, as a prefill remainder).
fn check_ring_attention(ctx: &GpuContext, s: AttnShape, chunk: usize, ns: &[usize], seed: u64) {
    let (qw, kw) = (s.heads * s.head_dim, s.kv_heads * s.head_dim);
    let cap = s.sinks + s.window;
    let mut cpu = Ring {
        sinks: s.sinks,
        window: s.window,
        width: kw,
        f16: s.kv_f16,
        k: vec![0.0; cap * kw],
        v: vec![0.0; cap * kw],
        filled: 0,
    };
    let mut r = Rng::new(seed);
    let (qo, ko, vo, yo) = (0, chunk * qw, chunk * (qw + kw), chunk * (qw + 2 * kw));
    let mut h = Harness::new(ctx, chunk * (2 * qw + 2 * kw), chunk);
    let ring = h.buffer(&vec![0.0; s.ring_words()]);
    let scratch = h.buffer(&vec![0.0; s.scratch_floats()]);
    let (q, k, v, y) = (dense(qo, qw), dense(ko, kw), dense(vo, kw), dense(yo, qw));
    let chunked = h.record(|rec| ops::attend(rec, s, q, k, v, y, &ring, &scratch));
    h.max_rows = 1;
    let single = h.record(|rec| ops::attend(rec, s, q, k, v, y, &ring, &scratch));
    let mut pos = 0;
    for (i, &n) in ns.iter().enumerate() {
        let (q, k, v) = (r.vec(n * qw), r.vec(n * kw), r.vec(n * kw));
        h.put(qo, &q);
        h.put(ko, &k);
        h.put(vo, &v);
        let list = if n == 1 && i % 2 == 0 {
            &single
        } else {
            &chunked
        };
        ctx.run(&h.step, &step(n, pos), &[list]);
        let got = h.get(yo, n * qw);
        for t in 0..n {
            cpu.append(pos + t, &k[t * kw..(t + 1) * kw], &v[t * kw..(t + 1) * kw]);
            let mut want = vec![0.0; qw];
            let mut scores = vec![0.0; cap];
            attn::attend(
                &q[t * qw..(t + 1) * qw],
                &cpu.k,
                &cpu.v,
                cpu.filled,
                s.heads,
                s.kv_heads,
                s.head_dim,
                s.scale,
                &mut scores,
                &mut want,
            );
            close(
                &format!(
                    "attend pos {} n {n} f16 {} {:?}",
                    pos + t,
                    s.kv_f16,
                    ctx.tier
                ),
                &got[t * qw..(t + 1) * qw],
                &want,
                2e-5,
                1e-5,
            );
        }
        pos += n;
    }
    let keys = ring_keys(&h.read(&ring), s);
    assert_eq!(
        keys, cpu.k,
        "ring keys: copies (f32), rounded as the CPU rounds (f16)"
    );
}

#[test]
fn attention_over_a_wrapping_ring_with_sinks_matches_cpu() {
    for ctx in contexts() {
        let s = AttnShape {
            heads: 4,
            kv_heads: 2,
            head_dim: 16,
            scale: 0.25,
            sinks: 2,
            window: 5,
            kv_f16: false,
        };
        // Decode-sized and prefill-sized runs, wrapping the window several times.
        let runs = [1, 3, 1, 2, 3, 3, 1, 3, 1, 1, 1, 1];
        check_ring_attention(ctx, s, 3, &runs, 2);
        check_ring_attention(ctx, AttnShape { kv_f16: true, ..s }, 3, &runs, 4);
        // Several 64-slot splits (ring of 3 + 150 slots), GQA, a head dim not a multiple of 16,
        // decode past two wraps with prefill runs in between.
        let s = AttnShape {
            heads: 6,
            kv_heads: 2,
            head_dim: 44,
            scale: 0.15,
            sinks: 3,
            window: 150,
            kv_f16: false,
        };
        let mut ns = vec![1; 140];
        ns.extend([4, 1, 2]);
        ns.extend(vec![1; 200]);
        check_ring_attention(ctx, s, 4, &ns, 3);
        check_ring_attention(ctx, AttnShape { kv_f16: true, ..s }, 4, &ns, 5);
        // Head dims past 64 and past 128 (the prefill kernel's value sums in 2 slot groups,
        // then in 1), over a ring of 70 slots.
        for (hd, kv_f16) in [(96, false), (96, true), (160, true)] {
            let s = AttnShape {
                heads: 2,
                kv_heads: 1,
                head_dim: hd,
                scale: 0.1,
                sinks: 1,
                window: 69,
                kv_f16,
            };
            let mut ns = vec![4; 20];
            ns.extend([1, 3, 1]);
            check_ring_attention(ctx, s, 4, &ns, 6);
        }
    }
}

/// An f16 ring holds exactly the CPU ring's f16 bits (`half`'s IEEE conversion), written by
/// both kernels: at the edges of the format (ties, the largest finite value, overflow to ±inf,
/// subnormals and their ties, underflow to ±0) and across the exponents, half of them ties.
#[test]
fn f16_ring_rounds_as_the_cpu_ring() {
    let mut key = vec![
        1.0 + 1.0 / 2048.0, // a tie: rounds to even (1.0)
        1.0 + 3.0 / 2048.0, // a tie: rounds to even (1 + 2⁻⁹)
        65504.0,
        65519.0,  // below half a step past the largest f16: 65504
        -65520.0, // half a step past: −inf
        1e9,
        f32::INFINITY,
        1e-6,                                        // subnormal
        -3e-8,                                       // below half the smallest subnormal: −0
        2.0f32.powi(-25),       // exactly half the smallest subnormal: a tie, to 0
        3.0 * 2.0f32.powi(-25), // 1.5 · 2⁻²⁴: a tie, to 2 · 2⁻²⁴
        2.0f32.powi(-14) * (1.0 - 2.0f32.powi(-12)), // rounds up to the smallest normal
        0.0,
        -0.0,
    ];
    let mut r = Rng::new(9);
    while key.len() < 256 {
        // Exponents from 2⁻²⁶ to 2¹⁶, random mantissas; every other one a tie (the 13 bits
        // f16 drops are exactly half a step).
        let e = 101 + (r.u01() * 42.0) as u32;
        let mut m = (r.u01() * (1 << 23) as f32) as u32 & 0x7fffff;
        if key.len() % 2 == 0 {
            m = (m & !0x1fff) | 0x1000;
        }
        let sign = if r.u01() < 0.5 { 1u32 << 31 } else { 0 };
        key.push(f32::from_bits(sign | e << 23 | m));
    }
    for ctx in contexts() {
        for one_row in [true, false] {
            let s = AttnShape {
                heads: 1,
                kv_heads: 1,
                head_dim: key.len(),
                scale: 1.0,
                sinks: 0,
                window: 2,
                kv_f16: true,
            };
            let w = key.len();
            // Room for two rows per view (the chunked kernel's recording).
            let mut h = Harness::new(ctx, 8 * w, 1);
            h.put(2 * w, &key);
            h.put(4 * w, &key);
            let ring = h.buffer(&vec![0.0; s.ring_words()]);
            let scratch = h.buffer(&vec![0.0; s.scratch_floats()]);
            h.max_rows = if one_row { 1 } else { 2 };
            let (q, k, v, y) = (
                dense(0, w),
                dense(2 * w, w),
                dense(4 * w, w),
                dense(6 * w, w),
            );
            let list = h.record(|rec| ops::attend(rec, s, q, k, v, y, &ring, &scratch));
            ctx.run(&h.step, &step(1, 0), &[&list]);
            let got: Vec<u16> = ring_keys(&h.read(&ring), s)[..w]
                .iter()
                .map(|x| f16::from_f32(*x).to_bits())
                .collect();
            let want: Vec<u16> = key.iter().map(|x| f16::from_f32(*x).to_bits()).collect();
            assert_eq!(got, want, "one_row {one_row} {:?}", ctx.tier);
        }
        // Two f16 per word: an odd head dim would split a word between heads.
        let odd = AttnShape {
            heads: 1,
            kv_heads: 1,
            head_dim: 7,
            scale: 1.0,
            sinks: 0,
            window: 2,
            kv_f16: true,
        };
        let mut h = Harness::new(ctx, 64, 1);
        let ring = h.buffer(&vec![0.0; 64]);
        let scratch = h.buffer(&vec![0.0; 64]);
        let v = dense(0, 7);
        let mut r = Recorder::new(ctx, &mut h.pipes, &h.step, &h.arena, 1);
        let err = ops::attend(&mut r, odd, v, v, v, v, &ring, &scratch).unwrap_err();
        assert!(err.to_string().contains("even head dim"), "{err}");
    }
}

#[test]
fn moe_routing_matches_cpu() {
    for ctx in contexts() {
        let (e, k, n) = (16, 2, 3);
        let mut r = Rng::new(3);
        let mut logits = r.vec(n * e);
        logits[e + 3] = logits[e + 7]; // a tie in row 1
        let mut h = Harness::new(ctx, 256, n);
        h.put(0, &logits);
        h.run(step(n, 0), |rec| {
            ops::moe_route(rec, dense(0, e), dense(128, 2 * k), k)
        });
        let got = h.get(128, n * 2 * k);
        for t in 0..n {
            let (mut p, mut idx, mut w) = (vec![0.0; e], vec![0usize; k], vec![0.0; k]);
            moe::top_k_softmax_no_renorm(&logits[t * e..(t + 1) * e], k, &mut p, &mut idx, &mut w);
            let row = &got[t * 2 * k..(t + 1) * 2 * k];
            close("moe weights", &row[..k], &w, 2e-5, 1e-6);
            let ids: Vec<usize> = row[k..].iter().map(|&v| v as usize).collect();
            assert_eq!(ids, idx, "moe ids row {t}");
        }
    }
}

/// The CPU sampler's chain in f64: top-k (sorted) → softmax at temp → min-p → top-p → draw.
/// Returns the id, or None when `u` falls within 1e-4 of a cumulative boundary.
fn reference_draw(l: &[f32], k: usize, temp: f32, top_p: f32, min_p: f32, u: f32) -> Option<u32> {
    let mut ids: Vec<usize> = (0..l.len()).filter(|&i| l[i].is_finite()).collect();
    ids.sort_by(|&a, &b| l[b].total_cmp(&l[a]).then(a.cmp(&b)));
    ids.truncate(k);
    let p: Vec<f64> = ids
        .iter()
        .map(|&i| (((l[i] - l[ids[0]]) / temp) as f64).exp())
        .collect();
    let z: f64 = p.iter().sum();
    let mut keep = p.iter().take_while(|&&v| v >= min_p as f64).count().max(1);
    if top_p < 1.0 {
        let mut cum = 0.0;
        for (j, v) in p[..keep].iter().enumerate() {
            cum += v;
            if cum >= top_p as f64 * z {
                keep = j + 1;
                break;
            }
        }
    }
    let total: f64 = p[..keep].iter().sum();
    let target = u as f64 * total;
    let mut acc = 0.0;
    for j in 0..keep {
        acc += p[j];
        if (acc - target).abs() < 1e-4 * total {
            return None;
        }
        if target < acc {
            return Some(ids[j] as u32);
        }
    }
    Some(ids[keep - 1] as u32)
}

#[test]
fn argmax_and_top_k_sampling_match_the_cpu_chain() {
    for ctx in contexts() {
        let vocab = 3000;
        let mut r = Rng::new(4);
        let mut h = Harness::new(ctx, vocab, 1);
        let ids = h.buffer(&[0.0; 4]);
        let greedy = h.record(|rec| ops::argmax(rec, View::one(0, vocab), &ids, 1));
        let topk = h.record(|rec| ops::sample_top_k(rec, View::one(0, vocab), &ids, 2));
        let mut checked = 0;
        for trial in 0..12 {
            let mut l: Vec<f32> = r.vec(vocab).iter().map(|v| 3.0 * v).collect();
            l[100 + trial] = f32::NEG_INFINITY;
            if trial == 0 {
                l[5] = 50.0;
                l[9] = 50.0; // tie: lowest id wins
            }
            h.put(0, &l);
            let (k, temp, top_p, min_p) = [
                (40, 0.8, 0.9, 0.0),
                (64, 1.3, 1.0, 0.05),
                (1, 1.0, 1.0, 0.0),
            ][trial % 3];
            let u = r.u01();
            let st = Step {
                n: 1,
                top_k: k,
                rand: u,
                temp,
                top_p,
                min_p,
                ..Step::default()
            };
            ctx.run(&h.step, &st, &[&greedy, &topk]);
            let got: Vec<u32> = h.read(&ids).iter().map(|v| v.to_bits()).collect();
            let best = (0..vocab).fold(0, |b, i| if l[i] > l[b] { i } else { b });
            assert_eq!(got[1] as usize, best, "argmax trial {trial}");
            if let Some(want) = reference_draw(&l, k as usize, temp, top_p, min_p, u) {
                assert_eq!(
                    got[2], want,
                    "draw trial {trial} (k {k}, t {temp}, p {top_p}, min-p {min_p}, u {u})"
                );
                checked += 1;
            }
        }
        assert!(checked >= 10);
    }
}
