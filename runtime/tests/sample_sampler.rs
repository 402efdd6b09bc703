//! Behaviour of `weft::sample::Sampler`: each filter on hand-made distributions, determinism,
//! RNG snapshots and typed errors.

use weft::sample::{Candidate, SampleError, Sampler, SamplerConfig};

/// Logits whose softmax at temperature 1 is exactly `probs`.
fn logits_of(probs: &[f32]) -> Vec<f32> {
    probs.iter().map(|p| p.ln()).collect()
}

/// Temperature 1, every filter off.
fn plain() -> SamplerConfig {
    SamplerConfig {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        repetition_penalty: 1.0,
        ..SamplerConfig::default()
    }
}

/// Deterministic pseudo-random logits in [-8, 8) (an LCG, independent of the sampler's RNG).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 16.0 - 8.0
        })
        .collect()
}

fn kept(s: &Sampler) -> Vec<u32> {
    let mut ids: Vec<u32> = s.candidates().iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids
}

fn prob_of(s: &Sampler, id: u32) -> f32 {
    s.candidates()
        .iter()
        .find(|c| c.id == id)
        .map_or(0.0, |c| c.p)
}

#[test]
fn defaults_match_llama_cpp_common() {
    let d = SamplerConfig::default();
    assert_eq!(d.temperature, 0.8);
    assert_eq!(d.top_k, 40);
    assert_eq!(d.top_p, 0.95);
    assert_eq!(d.min_p, 0.05);
    assert_eq!(d.repetition_penalty, 1.0);
    assert_eq!(d.repeat_last_n, 64);
    assert_eq!(d.validate(), Ok(()));
    assert_eq!(SamplerConfig::greedy().temperature, 0.0);
    assert_eq!(SamplerConfig::greedy().validate(), Ok(()));
}

#[test]
fn greedy_is_argmax_with_ties_to_lowest_id() {
    let mut s = Sampler::new(1000);
    for seed in 0..20 {
        let logits = noise(1000, seed);
        let argmax = logits
            .iter()
            .enumerate()
            .fold(0, |b, (i, &l)| if l > logits[b] { i } else { b });
        let id = s.sample(&logits, &SamplerConfig::greedy(), &[]).unwrap();
        assert_eq!(id as usize, argmax);
    }
    let mut s = Sampler::new(5);
    let tied = [1.0, 3.0, -2.0, 3.0, 3.0];
    assert_eq!(s.sample(&tied, &SamplerConfig::greedy(), &[]), Ok(1));
    assert_eq!(
        s.candidates(),
        &[Candidate {
            id: 1,
            logit: 3.0,
            p: 1.0
        }]
    );
}

#[test]
fn greedy_does_not_consume_randomness() {
    let mut s = Sampler::with_seed(4, 9);
    let before = s.rng_state();
    s.sample(&[0.1, 0.2, 0.3, 0.4], &SamplerConfig::greedy(), &[])
        .unwrap();
    assert_eq!(s.rng_state(), before);
    s.sample(&[0.1, 0.2, 0.3, 0.4], &plain(), &[]).unwrap();
    assert_ne!(s.rng_state(), before);
}

fn run(seed: u64, steps: usize) -> Vec<u32> {
    let mut s = Sampler::with_seed(256, seed);
    let cfg = SamplerConfig {
        temperature: 1.5,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        ..SamplerConfig::default()
    };
    (0..steps)
        .map(|i| s.sample(&noise(256, i as u64 % 7), &cfg, &[]).unwrap())
        .collect()
}

#[test]
fn same_seed_same_sequence_different_seed_different_sequence() {
    let a = run(42, 200);
    assert_eq!(a, run(42, 200));
    let b = run(43, 200);
    assert_ne!(a, b);
    // Not degenerate: the flat-ish distribution yields many distinct tokens.
    let mut distinct = a.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 20, "{}", distinct.len());
}

fn frequencies(s: &mut Sampler, logits: &[f32], cfg: &SamplerConfig, draws: usize) -> Vec<f64> {
    let mut counts = vec![0usize; logits.len()];
    for _ in 0..draws {
        counts[s.sample(logits, cfg, &[]).unwrap() as usize] += 1;
    }
    counts.iter().map(|&c| c as f64 / draws as f64).collect()
}

#[test]
fn temperature_sampling_matches_softmax_probabilities() {
    // Fixed seed, so the test is deterministic; the tolerance is > 5 standard deviations
    // (sqrt(0.25 / 200_000) ≈ 0.0011), so it holds for any seed in practice.
    let probs = [0.1f32, 0.2, 0.3, 0.4];
    let logits = logits_of(&probs);
    let mut s = Sampler::with_seed(4, 1234);
    let f = frequencies(&mut s, &logits, &plain(), 200_000);
    for (got, want) in f.iter().zip(probs) {
        assert!((got - f64::from(want)).abs() < 0.006, "{f:?} vs {probs:?}");
    }

    // Temperature 0.5 squares the probabilities: 1:4:9:16 over 30.
    let cfg = SamplerConfig {
        temperature: 0.5,
        ..plain()
    };
    let f = frequencies(&mut s, &logits, &cfg, 200_000);
    for (got, w) in f.iter().zip([1.0, 4.0, 9.0, 16.0]) {
        assert!((got - w / 30.0).abs() < 0.006, "{f:?}");
    }
    assert!((prob_of(&s, 3) - 16.0 / 30.0).abs() < 1e-6);
}

#[test]
fn top_k_one_equals_greedy() {
    let mut a = Sampler::with_seed(500, 1);
    let mut b = Sampler::new(500);
    let cfg = SamplerConfig {
        top_k: 1,
        temperature: 2.0,
        ..SamplerConfig::default()
    };
    for seed in 0..50 {
        let logits = noise(500, seed);
        assert_eq!(
            a.sample(&logits, &cfg, &[]).unwrap(),
            b.sample(&logits, &SamplerConfig::greedy(), &[]).unwrap()
        );
    }
}

#[test]
fn top_k_keeps_the_k_largest() {
    let mut s = Sampler::new(6);
    let logits = [0.5, 3.0, -1.0, 2.0, 2.5, 0.0];
    let cfg = SamplerConfig {
        top_k: 3,
        ..plain()
    };
    s.sample(&logits, &cfg, &[]).unwrap();
    assert_eq!(kept(&s), vec![1, 3, 4]);
    // Most likely first once filtered.
    let order: Vec<u32> = s.candidates().iter().map(|c| c.id).collect();
    assert_eq!(order, vec![1, 4, 3]);
}

#[test]
fn top_p_keeps_the_smallest_prefix_reaching_p() {
    // Probabilities 0.5, 0.25, 0.15, 0.1 placed at scrambled ids 3, 0, 4, 1 (id 2 masked).
    let mut logits = [f32::NEG_INFINITY; 5];
    for (id, p) in [(3, 0.5f32), (0, 0.25), (4, 0.15), (1, 0.1)] {
        logits[id] = p.ln();
    }
    let mut s = Sampler::new(5);
    let with_p = |top_p| SamplerConfig { top_p, ..plain() };

    s.sample(&logits, &with_p(0.4), &[]).unwrap();
    assert_eq!(kept(&s), vec![3]);
    assert_eq!(prob_of(&s, 3), 1.0);

    s.sample(&logits, &with_p(0.7), &[]).unwrap();
    assert_eq!(kept(&s), vec![0, 3]);
    assert!((prob_of(&s, 3) - 2.0 / 3.0).abs() < 1e-6);
    assert!((prob_of(&s, 0) - 1.0 / 3.0).abs() < 1e-6);

    s.sample(&logits, &with_p(0.8), &[]).unwrap();
    assert_eq!(kept(&s), vec![0, 3, 4]);
    assert!((prob_of(&s, 4) - 0.15 / 0.9).abs() < 1e-6);

    s.sample(&logits, &with_p(0.95), &[]).unwrap();
    assert_eq!(kept(&s), vec![0, 1, 3, 4]);

    // Draws only ever come from the kept set.
    for _ in 0..500 {
        let id = s.sample(&logits, &with_p(0.7), &[]).unwrap();
        assert!(id == 3 || id == 0, "{id}");
    }
}

#[test]
fn min_p_drops_tokens_below_a_fraction_of_the_top() {
    let logits = logits_of(&[0.5, 0.3, 0.12, 0.05, 0.03]);
    let mut s = Sampler::new(5);
    let with_min = |min_p| SamplerConfig { min_p, ..plain() };

    // Threshold 0.2 * 0.5 = 0.1.
    s.sample(&logits, &with_min(0.2), &[]).unwrap();
    assert_eq!(kept(&s), vec![0, 1, 2]);
    assert!((prob_of(&s, 2) - 0.12 / 0.92).abs() < 1e-6);

    // Threshold 0.25.
    s.sample(&logits, &with_min(0.5), &[]).unwrap();
    assert_eq!(kept(&s), vec![0, 1]);

    // Threshold 0.5: only the top token reaches it.
    s.sample(&logits, &with_min(1.0), &[]).unwrap();
    assert_eq!(kept(&s), vec![0]);

    s.sample(&logits, &with_min(0.0), &[]).unwrap();
    assert_eq!(kept(&s), vec![0, 1, 2, 3, 4]);
}

#[test]
fn top_p_and_min_p_combine_to_the_shorter_prefix() {
    let logits = logits_of(&[0.5, 0.3, 0.12, 0.05, 0.03]);
    let mut s = Sampler::new(5);
    // top-p alone keeps 3 (0.92 ≥ 0.9); min-p alone (threshold 0.2) keeps 2.
    let cfg = SamplerConfig {
        top_p: 0.9,
        min_p: 0.4,
        ..plain()
    };
    s.sample(&logits, &cfg, &[]).unwrap();
    assert_eq!(kept(&s), vec![0, 1]);
    // top-p keeps 2 (0.8 ≥ 0.7); min-p (threshold 0.05) would keep 4.
    let cfg = SamplerConfig {
        top_p: 0.7,
        min_p: 0.1,
        ..plain()
    };
    s.sample(&logits, &cfg, &[]).unwrap();
    assert_eq!(kept(&s), vec![0, 1]);
}

#[test]
fn temperature_is_applied_before_top_p() {
    // At T = 1: 0.5, 0.3, 0.2 → top-p 0.75 keeps 2. At T = 0.25 the top token has
    // 0.5^4 / (0.5^4 + 0.3^4 + 0.2^4) ≈ 0.871 ≥ 0.75, so it stands alone.
    let logits = logits_of(&[0.5, 0.3, 0.2]);
    let mut s = Sampler::new(3);
    s.sample(
        &logits,
        &SamplerConfig {
            top_p: 0.75,
            ..plain()
        },
        &[],
    )
    .unwrap();
    assert_eq!(kept(&s), vec![0, 1]);
    let cold = SamplerConfig {
        top_p: 0.75,
        temperature: 0.25,
        ..plain()
    };
    s.sample(&logits, &cold, &[]).unwrap();
    assert_eq!(kept(&s), vec![0]);
}

#[test]
fn repetition_penalty_changes_the_argmax() {
    let mut s = Sampler::new(4);
    let pen = SamplerConfig {
        repetition_penalty: 1.1,
        ..SamplerConfig::greedy()
    };
    // Positive logit divided: 2.0 / 1.1 ≈ 1.818 < 1.9.
    let logits = [2.0, 1.9, -1.0, 0.5];
    assert_eq!(s.sample(&logits, &SamplerConfig::greedy(), &[0]), Ok(0));
    assert_eq!(s.sample(&logits, &pen, &[0]), Ok(1));
    // Repeated occurrences are penalised once, not compounded.
    assert_eq!(s.sample(&logits, &pen, &[0, 0, 0, 0]), Ok(1));
    let cfg = SamplerConfig {
        repetition_penalty: 1.1,
        ..plain()
    };
    s.sample(&logits, &cfg, &[0, 0, 0]).unwrap();
    let c0 = s.candidates().iter().find(|c| c.id == 0).unwrap();
    assert_eq!(c0.logit, 2.0 / 1.1);

    // Negative logit multiplied: -1.0 * 1.1 = -1.1 < -1.05.
    let neg = [-1.0, -1.05];
    let mut s2 = Sampler::new(2);
    assert_eq!(s2.sample(&neg, &pen, &[]), Ok(0));
    assert_eq!(s2.sample(&neg, &pen, &[0]), Ok(1));

    // Only the last `repeat_last_n` tokens count: token 0 is outside a window of 2.
    let window = SamplerConfig {
        repeat_last_n: 2,
        ..pen
    };
    assert_eq!(s.sample(&logits, &window, &[0, 3, 3]), Ok(0));
    assert_eq!(s.sample(&logits, &window, &[3, 0]), Ok(1));
    // repeat_last_n = 0 disables it.
    let off = SamplerConfig {
        repeat_last_n: 0,
        ..pen
    };
    assert_eq!(s.sample(&logits, &off, &[0]), Ok(0));
}

#[test]
fn rng_state_restore_reproduces_the_continuation() {
    let cfg = SamplerConfig {
        temperature: 1.3,
        ..SamplerConfig::default()
    };
    let mut s = Sampler::with_seed(300, 77);
    for i in 0..10 {
        s.sample(&noise(300, i), &cfg, &[]).unwrap();
    }
    let snap = s.rng_state();
    let first: Vec<u32> = (0..50)
        .map(|i| s.sample(&noise(300, i % 5), &cfg, &[]).unwrap())
        .collect();

    // Restore into a different sampler with a different seed.
    let mut t = Sampler::with_seed(300, 1);
    t.set_rng_state(snap).unwrap();
    let again: Vec<u32> = (0..50)
        .map(|i| t.sample(&noise(300, i % 5), &cfg, &[]).unwrap())
        .collect();
    assert_eq!(first, again);
    assert_eq!(s.rng_state(), t.rng_state());

    // reseed restarts the stream from scratch.
    let mut u = Sampler::with_seed(300, 5);
    let a: Vec<u32> = (0..20)
        .map(|_| u.sample(&noise(300, 3), &cfg, &[]).unwrap())
        .collect();
    u.reseed(5);
    let b: Vec<u32> = (0..20)
        .map(|_| u.sample(&noise(300, 3), &cfg, &[]).unwrap())
        .collect();
    assert_eq!(a, b);

    assert_eq!(u.set_rng_state([0; 4]), Err(SampleError::ZeroRngState));
}

#[test]
fn invalid_configs_are_typed_errors() {
    let cases = [
        (
            SamplerConfig {
                temperature: -0.1,
                ..SamplerConfig::default()
            },
            SampleError::InvalidTemperature(-0.1),
        ),
        (
            SamplerConfig {
                temperature: f32::INFINITY,
                ..SamplerConfig::default()
            },
            SampleError::InvalidTemperature(f32::INFINITY),
        ),
        (
            SamplerConfig {
                top_p: 0.0,
                ..SamplerConfig::default()
            },
            SampleError::InvalidTopP(0.0),
        ),
        (
            SamplerConfig {
                top_p: 1.5,
                ..SamplerConfig::default()
            },
            SampleError::InvalidTopP(1.5),
        ),
        (
            SamplerConfig {
                min_p: -0.5,
                ..SamplerConfig::default()
            },
            SampleError::InvalidMinP(-0.5),
        ),
        (
            SamplerConfig {
                repetition_penalty: 0.0,
                ..SamplerConfig::default()
            },
            SampleError::InvalidRepetitionPenalty(0.0),
        ),
    ];
    let mut s = Sampler::new(2);
    for (cfg, err) in cases {
        assert_eq!(cfg.validate(), Err(err));
        assert_eq!(s.sample(&[0.0, 1.0], &cfg, &[]), Err(err));
    }
    // NaN anywhere is rejected (NaN != NaN, so match the variant).
    for cfg in [
        SamplerConfig {
            temperature: f32::NAN,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            top_p: f32::NAN,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            min_p: f32::NAN,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            repetition_penalty: f32::NAN,
            ..SamplerConfig::default()
        },
    ] {
        assert!(cfg.validate().is_err(), "{cfg:?}");
    }
    let msg = SampleError::InvalidTopP(1.5).to_string();
    assert!(msg.contains("top_p") && msg.contains("1.5"), "{msg}");
}

#[test]
fn bad_logits_and_history_are_typed_errors() {
    let mut s = Sampler::new(3);
    let cfg = SamplerConfig::default();
    assert_eq!(
        s.sample(&[0.0, 1.0], &cfg, &[]),
        Err(SampleError::LogitsLength {
            expected: 3,
            got: 2
        })
    );
    assert!(matches!(
        s.sample(&[0.0, f32::NAN, 1.0], &cfg, &[]),
        Err(SampleError::NonFiniteLogit { index: 1, .. })
    ));
    assert_eq!(
        s.sample(&[0.0, 1.0, f32::INFINITY], &SamplerConfig::greedy(), &[]),
        Err(SampleError::NonFiniteLogit {
            index: 2,
            value: f32::INFINITY
        })
    );
    let masked = [f32::NEG_INFINITY; 3];
    assert_eq!(s.sample(&masked, &cfg, &[]), Err(SampleError::AllMasked));
    assert_eq!(
        s.sample(&masked, &SamplerConfig::greedy(), &[]),
        Err(SampleError::AllMasked)
    );
    let pen = SamplerConfig {
        repetition_penalty: 1.2,
        ..cfg
    };
    assert_eq!(
        s.sample(&[0.0, 1.0, 2.0], &pen, &[1, 7]),
        Err(SampleError::TokenOutOfRange {
            token: 7,
            vocab_size: 3
        })
    );
    // With the penalty off the history is not read at all.
    assert!(s.sample(&[0.0, 1.0, 2.0], &cfg, &[7]).is_ok());
    let mut empty = Sampler::new(0);
    assert_eq!(empty.sample(&[], &cfg, &[]), Err(SampleError::AllMasked));
}

#[test]
fn masked_tokens_are_never_drawn() {
    let mut s = Sampler::with_seed(4, 3);
    let logits = [5.0, f32::NEG_INFINITY, 5.0, f32::NEG_INFINITY];
    let mut seen = [0usize; 4];
    for _ in 0..2000 {
        seen[s.sample(&logits, &plain(), &[]).unwrap() as usize] += 1;
    }
    assert_eq!((seen[1], seen[3]), (0, 0));
    assert!(seen[0] > 800 && seen[2] > 800, "{seen:?}");
}

#[test]
fn extreme_values_stay_finite() {
    let mut s = Sampler::new(3);
    // A subnormal temperature behaves like greedy instead of producing NaN.
    let cfg = SamplerConfig {
        temperature: 1e-40,
        ..plain()
    };
    assert_eq!(s.sample(&[1.0, 2.0, 1.5], &cfg, &[]), Ok(1));
    // A boosting penalty (< 1) on a huge logit is capped rather than becoming +inf.
    let boost = SamplerConfig {
        repetition_penalty: 1e-30,
        ..plain()
    };
    assert_eq!(s.sample(&[f32::MAX, 0.0, 1.0], &boost, &[0]), Ok(0));
    assert!(s.candidates().iter().all(|c| c.p.is_finite()));
}

#[test]
fn top_p_on_a_large_flat_vocabulary_matches_a_full_sort() {
    // A nucleus of thousands of tokens exercises the sampler's growing partial sort.
    let n = 5000;
    let logits = noise(n, 99).iter().map(|l| l / 8.0).collect::<Vec<_>>();
    for top_p in [0.3f32, 0.9, 0.999] {
        let cfg = SamplerConfig { top_p, ..plain() };
        let mut s = Sampler::new(n);
        s.sample(&logits, &cfg, &[]).unwrap();

        // Reference: full sort, f64 softmax, smallest prefix reaching top_p.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        let max = f64::from(logits[order[0]]);
        let w: Vec<f64> = order
            .iter()
            .map(|&i| (f64::from(logits[i]) - max).exp())
            .collect();
        let z: f64 = w.iter().sum();
        let mut cum = 0.0;
        let keep = w
            .iter()
            .position(|x| {
                cum += x / z;
                cum >= f64::from(top_p)
            })
            .unwrap()
            + 1;
        assert!(keep > 64, "nucleus of {keep} does not exercise the growth");
        let got: Vec<u32> = s.candidates().iter().map(|c| c.id).collect();
        let want: Vec<u32> = order[..keep].iter().map(|&i| i as u32).collect();
        // Rounding can move the cut by one token at most.
        assert!(
            got.len().abs_diff(want.len()) <= 1,
            "top_p {top_p}: {} vs {}",
            got.len(),
            want.len()
        );
        let common = got.len().min(want.len());
        assert_eq!(got[..common], want[..common], "top_p {top_p}");
        let mass: f32 = s.candidates().iter().map(|c| c.p).sum();
        assert!((mass - 1.0).abs() < 1e-3, "{mass}");
    }
}
