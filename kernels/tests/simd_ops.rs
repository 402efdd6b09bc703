//! SIMD elementwise / recurrence kernels against the scalar references on every path:
//! exp, SiLU, SSM steps, conv step, RMSNorm variants, attention. Bounds are stated per test.

mod common;

use common::{Rng, alloc_count, assert_close, bits, simd_paths};
use weft_kernels::cpu::act::*;
use weft_kernels::cpu::attn::{KvElem, attend_heads_on, attend_heads_scalar, f16};
use weft_kernels::cpu::conv::{
    conv1d_rows_on, conv1d_rows_scratch_len, conv1d_step_on, conv1d_step_scalar,
};
use weft_kernels::cpu::dispatch::{Path, selected_path};
use weft_kernels::cpu::norm::*;
use weft_kernels::cpu::ssm::*;

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

const EPS: f64 = f32::EPSILON as f64;

/// Max relative error of the vector exp vs the exact (f64) exp over normal results, on a dense
/// grid of [−87.3, 88.7] plus random points: ≤ 1.2e-7 (1 ulp; measured 8.2e-8 on x86-64).
#[test]
fn exp_relative_error_over_the_normal_range() {
    let mut r = Rng::new(4000);
    let mut x: Vec<f32> = (0..400_000)
        .map(|i| -87.3 + 176.0 * i as f32 / 400_000.0)
        .collect();
    x.extend((0..100_000).map(|_| r.range(-87.3, 88.7)));
    x.extend((0..10_000).map(|_| r.range(-1e-3, 1e-3)));
    x.extend([0.0, -0.0, 1.0, -1.0, 0.5, 88.7, -87.3]);
    for path in simd_paths() {
        let mut y = x.clone();
        exp_inplace_on(path, &mut y);
        let mut worst = 0.0f64;
        for (&xi, &yi) in x.iter().zip(&y) {
            let e = (xi as f64).exp();
            worst = worst.max((yi as f64 - e).abs() / e);
        }
        eprintln!("{path}: exp max relative error {worst:.3e}");
        assert!(worst <= 1.2e-7, "{path}: {worst}");
    }
}

/// Softplus (torch's, threshold 20) against f64 on every SIMD path: within 3.6e-7 (3 ulp)
/// relative of the exact value (plus one subnormal step where e^x is subnormal), x itself above 20,
/// 0 at −inf, +inf at +inf, NaN for NaN.
#[test]
fn softplus_relative_error() {
    let mut r = Rng::new(4002);
    let mut x: Vec<f32> = (0..200_000)
        .map(|i| -110.0 + 135.0 * i as f32 / 200_000.0)
        .collect();
    x.extend((0..50_000).map(|_| r.range(-20.0, 20.0)));
    x.extend((0..10_000).map(|_| r.range(-1e-3, 1e-3)));
    x.extend([
        0.0, -0.0, 0.3466, -0.3466, 19.99, 20.0, 20.01, -87.3, -103.0, 1e30, -1e30,
    ]);
    let mut scalar = x.clone();
    softplus_inplace_scalar(&mut scalar);
    for path in simd_paths() {
        let mut y = x.clone();
        softplus_inplace_on(path, &mut y);
        let mut worst = 0.0f64;
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = if xi > 20.0 {
                xi as f64
            } else {
                (xi as f64).exp().ln_1p()
            };
            let err = (yi as f64 - want).abs();
            assert!(
                err <= 3.6e-7 * want + 1.4e-45,
                "{path}: softplus({xi}) = {yi:e}, want {want:e}"
            );
            if want > 1e-30 {
                worst = worst.max(err / want);
            }
        }
        eprintln!("{path}: softplus max relative error {worst:.3e}");
        let mut e = [f32::NEG_INFINITY, f32::INFINITY, f32::NAN];
        softplus_inplace_on(path, &mut e);
        assert_eq!(e[..2], [0.0, f32::INFINITY], "{path}");
        assert!(e[2].is_nan(), "{path}");
    }
    // The scalar reference meets the same bound.
    for (&xi, &yi) in x.iter().zip(&scalar) {
        let want = if xi > 20.0 {
            xi as f64
        } else {
            (xi as f64).exp().ln_1p()
        };
        assert!(
            (yi as f64 - want).abs() <= 3.6e-7 * want + 1.4e-45,
            "scalar {xi}"
        );
    }
}

/// Very negative inputs go to (subnormals, then) zero like f32::exp; overflow to +inf; NaN
/// stays NaN. Subnormal results: within one subnormal step (1.4e-45) of f32::exp.
#[test]
fn exp_edges_underflow_overflow_nan() {
    let mut x = vec![
        -87.5,
        -90.0,
        -100.0,
        -103.9,
        -104.0,
        -200.0,
        -1e30,
        f32::NEG_INFINITY,
        88.72,
        88.8,
        100.0,
        f32::INFINITY,
        f32::NAN,
    ];
    let mut r = Rng::new(4001);
    x.extend((0..1000).map(|_| r.range(-110.0, -87.3)));
    for path in simd_paths() {
        let mut y = x.clone();
        exp_inplace_on(path, &mut y);
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = xi.exp();
            if want.is_nan() {
                assert!(yi.is_nan(), "{path}: exp({xi}) = {yi}");
            } else if want.is_infinite() {
                assert_eq!(yi, want, "{path}: exp({xi})");
            } else {
                let tol = 1.4e-45 + 1.2e-7 * want;
                assert!(
                    (yi - want).abs() <= tol,
                    "{path}: exp({xi}) = {yi:e}, want {want:e}"
                );
                assert!(yi >= 0.0);
            }
        }
    }
}

/// SiLU and silu_mul: within 4 ulp (relative 4.8e-7) of the scalar torch-formula values.
#[test]
fn silu_matches_scalar() {
    let mut r = Rng::new(4002);
    for n in [0, 1, 7, 8, 9, 100, 1537] {
        let mut x: Vec<f32> = r.normal_vec(n).iter().map(|v| v * 8.0).collect();
        if n > 10 {
            x[..6].copy_from_slice(&[-100.0, -20.0, 0.0, -0.0, 20.0, 100.0]);
        }
        let up = r.normal_vec(n);
        let mut want = x.clone();
        silu_inplace_scalar(&mut want);
        let mut want_mul = vec![0.0; n];
        silu_mul_scalar(&x, &up, &mut want_mul);
        for path in simd_paths() {
            let mut got = x.clone();
            silu_inplace_on(path, &mut got);
            assert_close(&got, &want, 1e-38, 4.8e-7, &format!("{path} silu n={n}"));
            let mut got_mul = vec![0.0; n];
            silu_mul_on(path, &x, &up, &mut got_mul);
            assert_close(
                &got_mul,
                &want_mul,
                1e-38,
                4.8e-7,
                &format!("{path} silu_mul"),
            );
        }
    }
}

/// GELU (gelu_mul with up = 1, then with random up): against the exact erf GELU in f64, the
/// SIMD error is within (6e-7 + 1.5·x²·ε) relative + 1e-37 absolute: the erfc fit's 1.2e-7,
/// plus, for x < 0, the rounding of x²/2 inside exp(−x²/2 + P(t)), which grows with x² where
/// GELU itself is tiny (x = −5: 3.6e-6 of a 7e-7 value), on a dense grid of [−14, 14] and
/// random points. The scalar path (torch's formula in f32) loses 1 + erf to cancellation below
/// x ≈ −5 (it returns −0 from x ≈ −5.8): it is held to 6e-7 relative + 0.6·ε·|x| absolute.
/// +inf → +inf, −inf and NaN → NaN, as the scalar formula gives.
#[test]
fn gelu_matches_exact_erf() {
    let mut r = Rng::new(4003);
    let mut x: Vec<f32> = (0..200_001)
        .map(|i| -14.0 + 28.0 * i as f32 / 200_000.0)
        .collect();
    x.extend((0..50_000).map(|_| r.range(-6.0, 6.0)));
    x.extend((0..1000).map(|_| r.range(-1e-3, 1e-3)));
    x.extend([0.0, -0.0, 1e-30, -1e-30, 30.0, -30.0, 1e30, -1e30]);
    let exact = |v: f32| {
        let v = v as f64;
        0.5 * v * libm::erfc(-v * std::f64::consts::FRAC_1_SQRT_2)
    };
    let ones = vec![1.0f32; x.len()];
    let mut paths = simd_paths();
    paths.push(Path::Scalar);
    for path in paths {
        for n in [x.len(), 1, 7, 9] {
            let mut y = vec![0.0; n];
            gelu_mul_on(path, &x[..n], &ones[..n], &mut y);
            let mut worst = 0.0f64;
            for (&xi, &yi) in x[..n].iter().zip(&y) {
                let e = exact(xi);
                let err = (yi as f64 - e).abs();
                let bound = if path == Path::Scalar {
                    6e-7 * e.abs() + 0.6 * EPS * (xi as f64).abs()
                } else {
                    (6e-7 + 1.5 * (xi as f64).powi(2) * EPS) * e.abs() + 1e-37
                };
                assert!(err <= bound, "{path}: gelu({xi:e}) = {yi:e}, exact {e:e}");
                if e.abs() > 1e-30 {
                    worst = worst.max(err / e.abs());
                }
            }
            if n == x.len() {
                eprintln!("{path}: gelu max relative error {worst:.3e}");
            }
        }
        let edges = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
        let mut y = [0.0; 3];
        gelu_mul_on(path, &edges, &[1.0; 3], &mut y);
        assert_eq!(y[0], f32::INFINITY, "{path}");
        assert!(y[1].is_nan() && y[2].is_nan(), "{path}: {y:?}");
        // With a random `up`: the product of the same GELU values.
        let up = r.normal_vec(1537);
        let g: Vec<f32> = r.normal_vec(1537).iter().map(|v| v * 4.0).collect();
        let (mut got, mut gelu) = (vec![0.0; 1537], vec![0.0; 1537]);
        gelu_mul_on(path, &g, &up, &mut got);
        gelu_mul_on(path, &g, &vec![1.0; 1537], &mut gelu);
        for i in 0..1537 {
            assert_eq!(got[i], gelu[i] * up[i], "{path} gelu_mul element {i}");
        }
    }
}

/// Mamba-2: states bit-identical to the scalar reference (same operations in the same order);
/// y within 2·(N/8 + 8)·ε·(Σ|s·c| + |d·x|) (order of the C contraction), over several steps,
/// with groups, head ranges and N not a multiple of 8.
#[test]
fn mamba2_state_exact_and_y_within_bound() {
    let mut r = Rng::new(4003);
    let shapes = [
        (4, 3, 8, 2),
        (6, 5, 12, 3),
        (24, 4, 128, 1),
        (2, 2, 3, 1),
        (4, 3, 16, 2),
        (2, 3, 64, 1),
        (4, 2, 256, 2),
        (2, 2, 300, 1), // past the AVX2 step's once-per-head dt·B
    ];
    for (nh, p, n, g) in shapes {
        let dm = Mamba2Dims { nh, p, n, g };
        let a: Vec<f32> = (0..nh).map(|_| -r.range(0.5, 4.0)).collect();
        let d = r.normal_vec(nh);
        for path in simd_paths() {
            let mut s_ref = r.normal_vec(nh * p * n);
            let mut s = s_ref.clone();
            for step in 0..4 {
                let x = r.normal_vec(nh * p);
                let dt: Vec<f32> = (0..nh).map(|_| r.range(0.001, 0.5)).collect();
                let (b, c) = (r.normal_vec(g * n), r.normal_vec(g * n));
                let mut want = vec![0.0; nh * p];
                ssm_step_mamba2_heads_scalar(
                    &mut s_ref,
                    &x,
                    &dt,
                    &a,
                    &b,
                    &c,
                    &d,
                    dm,
                    0..nh,
                    &mut want,
                );
                // Two head ranges, as two threads would run them.
                let split = nh / 2;
                let mut got = vec![0.0; nh * p];
                let (s_lo, s_hi) = s.split_at_mut(split * p * n);
                let (y_lo, y_hi) = got.split_at_mut(split * p);
                let (x_lo, x_hi) = x.split_at(split * p);
                ssm_step_mamba2_heads_on(
                    path,
                    s_lo,
                    x_lo,
                    &dt[..split],
                    &a[..split],
                    &b,
                    &c,
                    &d[..split],
                    dm,
                    0..split,
                    y_lo,
                );
                ssm_step_mamba2_heads_on(
                    path,
                    s_hi,
                    x_hi,
                    &dt[split..],
                    &a[split..],
                    &b,
                    &c,
                    &d[split..],
                    dm,
                    split..nh,
                    y_hi,
                );
                assert_eq!(bits(&s), bits(&s_ref), "{path} {dm:?} step {step}: state");
                let k = 2.0 * (n as f64 / 8.0 + 8.0) * EPS;
                for row in 0..nh * p {
                    let h = row / p;
                    let grp = h / (nh / g);
                    let mag: f64 = (0..n)
                        .map(|j| (s_ref[row * n + j] as f64 * c[grp * n + j] as f64).abs())
                        .sum::<f64>()
                        + (d[h] as f64 * x[row] as f64).abs();
                    let err = (got[row] as f64 - want[row] as f64).abs();
                    assert!(err <= k * mag + 1e-30, "{path} {dm:?} row {row}: {err:e}");
                }
            }
        }
    }
}

/// Mamba-2 multi-token scan of one head against an f64 recurrence, on every path: the state
/// within 2e-6 of the magnitude recurrence |s|_k = e^(dt·a)·|s|_(k−1) + |dt·x·B| (a bound on
/// every term summed into it) and y within 2e-6 of Σ|s·C| + |D·x|. Strided rows, several
/// block lengths, state sizes with and without a register kernel (N = 16·2^k up to 256, others
/// fall back to the steps), and decays that cut the AVX-512 path's blocks early (a = −80: every
/// token alone) or never (a = 0). The scalar path is the steps themselves, bit for bit.
#[test]
fn mamba2_scan_matches_the_recurrence() {
    let mut r = Rng::new(4013);
    for (p, n) in [
        (3, 16),
        (5, 128),
        (4, 12),
        (2, 256),
        (64, 128),
        (7, 32),
        (3, 64),
    ] {
        for t in [1, 5, 33, 70] {
            for a in [-r.range(0.5, 4.0), 0.0, -80.0] {
                let d = r.normal_vec(1)[0];
                let (sx, sd, sb) = (p + 3, 2, 2 * n + 5);
                let x = r.normal_vec(t * sx);
                let dt: Vec<f32> = (0..t * sd).map(|_| r.range(0.001, 0.5)).collect();
                let bc = r.normal_vec(t * sb);
                let s0 = r.normal_vec(p * n);
                let xr = |i: usize| &x[i * sx + 1..i * sx + 1 + p];
                let (br, cr) = (
                    |i: usize| &bc[i * sb..i * sb + n],
                    |i: usize| &bc[i * sb + n + 2..i * sb + 2 * n + 2],
                );
                // The f64 recurrence and its magnitudes.
                let mut s64: Vec<f64> = s0.iter().map(|&v| v as f64).collect();
                let mut sabs: Vec<f64> = s64.iter().map(|v| v.abs()).collect();
                let (mut y64, mut yabs) = (vec![0.0f64; t * p], vec![0.0f64; t * p]);
                for i in 0..t {
                    let dti = dt[i * sd] as f64;
                    let da = (dti * a as f64).exp();
                    for pi in 0..p {
                        let xv = xr(i)[pi] as f64;
                        let (mut acc, mut mag) = (0.0, 0.0);
                        for k in 0..n {
                            let j = pi * n + k;
                            let u = dti * xv * br(i)[k] as f64;
                            s64[j] = da * s64[j] + u;
                            sabs[j] = da * sabs[j] + u.abs();
                            acc += s64[j] * cr(i)[k] as f64;
                            mag += sabs[j] * (cr(i)[k] as f64).abs();
                        }
                        y64[i * p + pi] = acc + d as f64 * xv;
                        yabs[i * p + pi] = mag + (d as f64 * xv).abs();
                    }
                }
                let mut paths = simd_paths();
                paths.push(Path::Scalar);
                for path in paths {
                    let (mut s, mut got) = (s0.clone(), vec![0.0; t * p]);
                    let mut scratch = vec![0.0; ssm_scan_mamba2_scratch_len(t, n)];
                    let head = Mamba2Head {
                        x: Strided {
                            data: &x[1..],
                            stride: sx,
                        },
                        dt: Strided {
                            data: &dt,
                            stride: sd,
                        },
                        b: Strided {
                            data: &bc,
                            stride: sb,
                        },
                        c: Strided {
                            data: &bc[n + 2..],
                            stride: sb,
                        },
                        a,
                        d,
                        p,
                        t,
                    };
                    ssm_scan_mamba2_head_on(path, &mut s, head, &mut scratch, &mut got);
                    let case = format!("{path} p={p} n={n} t={t} a={a}");
                    for (j, (&v, &w)) in s.iter().zip(&s64).enumerate() {
                        let err = (v as f64 - w).abs();
                        assert!(err <= 2e-6 * sabs[j] + 1e-30, "{case}: state {j}: {err:e}");
                    }
                    for (j, (&v, &w)) in got.iter().zip(&y64).enumerate() {
                        let err = (v as f64 - w).abs();
                        assert!(err <= 2e-6 * yabs[j] + 1e-30, "{case}: y {j}: {err:e}");
                    }
                    if path == Path::Scalar {
                        let (mut s_ref, mut want) = (s0.clone(), vec![0.0; t * p]);
                        let dims = Mamba2Dims { nh: 1, p, n, g: 1 };
                        for i in 0..t {
                            ssm_step_mamba2_heads_on(
                                path,
                                &mut s_ref,
                                xr(i),
                                &dt[i * sd..i * sd + 1],
                                &[a],
                                br(i),
                                cr(i),
                                &[d],
                                dims,
                                0..1,
                                &mut want[i * p..(i + 1) * p],
                            );
                        }
                        assert_eq!(bits(&s), bits(&s_ref), "{case}: state");
                        assert_eq!(bits(&got), bits(&want), "{case}: y");
                    }
                }
            }
        }
    }
}

/// Mamba-1 (vector exp of dt·a): one step from the same state, h within
/// 4ε·(|e^(dt·a)·h| + |dt·b·x|), y within 1e-6·(Σ|h·c| + |d·x|).
#[test]
fn mamba1_within_bound() {
    let mut r = Rng::new(4004);
    for (ni, n) in [(5, 16), (7, 12), (64, 16), (3, 3), (37, 16)] {
        let a: Vec<f32> = (0..ni * n).map(|_| -r.range(0.01, 8.0)).collect();
        let (b, c, d) = (r.normal_vec(n), r.normal_vec(n), r.normal_vec(ni));
        let x = r.normal_vec(ni);
        let dt: Vec<f32> = (0..ni).map(|_| r.range(0.001, 2.0)).collect();
        let s0 = r.normal_vec(ni * n);
        let (mut s_ref, mut want) = (s0.clone(), vec![0.0; ni]);
        ssm_step_mamba1_scalar(&mut s_ref, &x, &dt, &a, &b, &c, &d, &mut want);
        let mut avx2_state = None;
        for path in simd_paths() {
            let (mut s, mut got) = (s0.clone(), vec![0.0; ni]);
            ssm_step_mamba1_on(path, &mut s, &x, &dt, &a, &b, &c, &d, &mut got);
            // The AVX-512 kernel (N = 16) updates the state with the AVX2 step's operations.
            match path {
                Path::Avx2 => avx2_state = Some(s.clone()),
                Path::Avx512 | Path::Avx512Vbmi => {
                    let s2 = avx2_state.as_ref().expect("AVX2 runs first");
                    assert_eq!(bits(&s), bits(s2), "{path} n={n}: state vs AVX2");
                }
                _ => {}
            }
            for i in 0..ni {
                let mut mag_y = (d[i] * x[i]).abs() as f64;
                for k in 0..n {
                    let j = i * n + k;
                    let e = (dt[i] as f64 * a[j] as f64).exp();
                    let mag = (e * s0[j] as f64).abs() + (dt[i] * b[k] * x[i]).abs() as f64;
                    let err = (s[j] as f64 - s_ref[j] as f64).abs();
                    assert!(err <= 4.0 * EPS * mag + 1e-37, "{path} h[{i},{k}]: {err:e}");
                    mag_y += (s_ref[j] as f64 * c[k] as f64).abs();
                }
                let err = (got[i] as f64 - want[i] as f64).abs();
                assert!(err <= 1e-6 * mag_y + 1e-37, "{path} y[{i}]: {err:e}");
            }
        }
    }
}

/// Conv step: state updates identical; out within 2ε·(Σ|s·w| + |bias|) before SiLU, plus
/// SiLU's 4 ulp after it. K ≠ 4 runs the scalar code (identical bits).
#[test]
fn conv_step_matches_scalar() {
    let mut r = Rng::new(4005);
    for (c, k) in [
        (1, 4),
        (7, 4),
        (8, 4),
        (9, 4),
        (24, 4),
        (1792, 4),
        (5, 3),
        (16, 2),
    ] {
        for (with_bias, silu) in [(true, true), (false, false), (true, false)] {
            let w = r.normal_vec(c * k);
            let bias = r.normal_vec(c);
            let bias = with_bias.then_some(&bias[..]);
            for path in simd_paths() {
                let mut s_ref = r.normal_vec(c * k);
                let mut s = s_ref.clone();
                for _ in 0..3 {
                    let x = r.normal_vec(c);
                    let (mut want, mut got) = (vec![0.0; c], vec![0.0; c]);
                    conv1d_step_scalar(&mut s_ref, &x, &w, bias, &mut want, silu);
                    conv1d_step_on(path, &mut s, &x, &w, bias, &mut got, silu);
                    assert_eq!(bits(&s), bits(&s_ref), "{path} c={c} k={k}: state");
                    for ch in 0..c {
                        let mag: f64 = (0..k)
                            .map(|j| (s[ch * k + j] * w[ch * k + j]).abs() as f64)
                            .sum::<f64>()
                            + bias.map_or(0.0, |b| b[ch].abs() as f64);
                        let tol = 2.0 * EPS * mag + 4.8e-7 * want[ch].abs() as f64 + 1e-30;
                        let err = (got[ch] as f64 - want[ch] as f64).abs();
                        assert!(err <= tol, "{path} c={c} k={k} ch {ch}: {err:e} > {tol:e}");
                    }
                }
            }
        }
    }
}

/// RMSNorm variants: within (n/8 + 16)·ε relative (sum-of-squares order) of the reference.
#[test]
fn rms_norms_match_scalar() {
    let mut r = Rng::new(4006);
    for n in [1, 7, 16, 33, 768, 1001, 4096] {
        let (x, w, z) = (r.normal_vec(n), r.normal_vec(n), r.normal_vec(n));
        let rt = ((n as f64 / 8.0 + 16.0) * EPS) as f32;
        let mut want = vec![0.0; n];
        rms_norm_scalar(&x, &w, 1e-5, &mut want);
        let mut want_nw = vec![0.0; n];
        rms_norm_no_weight_on(Path::Scalar, &x, 1e-6, &mut want_nw);
        for path in simd_paths() {
            let mut got = vec![0.0; n];
            rms_norm_on(path, &x, &w, 1e-5, &mut got);
            assert_close(&got, &want, 0.0, rt, &format!("{path} rms_norm {n}"));
            let mut inplace = x.clone();
            rms_norm_inplace_on(path, &mut inplace, &w, 1e-5);
            assert_eq!(
                bits(&inplace),
                bits(&got),
                "{path}: in place is the same computation"
            );
            rms_norm_no_weight_on(path, &x, 1e-6, &mut got);
            assert_close(&got, &want_nw, 0.0, rt, &format!("{path} no_weight {n}"));
        }
        for groups in [1, n.min(4)] {
            if n % groups != 0 {
                continue;
            }
            let mut want = vec![0.0; n];
            gated_rms_norm_scalar(&x, &z, &w, groups, 1e-5, &mut want);
            for path in simd_paths() {
                let mut got = vec![0.0; n];
                gated_rms_norm_on(path, &x, &z, &w, groups, 1e-5, &mut got);
                let what = format!("{path} gated {n}/{groups}");
                assert_close(&got, &want, 1e-30, rt + 1e-6, &what);
            }
        }
    }
}

/// Attention: online softmax vs the reference's two passes. A score's rounding error
/// (dot order) is ≤ δ = 2·(hd/8 + 8)·ε·scale·Σ|q·k|; it moves each softmax weight by a factor
/// e^(±2δ). Bound: max|v|·(1e-6 + 4δ_max) + 2e-6·|out| (exp error, summation order). Covers
/// GQA, head ranges, tails of hd and of the 8-slot tiles, and score ranges wide enough to
/// exercise the running-max rescale.
#[test]
fn attention_matches_scalar() {
    let mut r = Rng::new(4007);
    for (heads, kvh, hd, slots) in [
        (4, 2, 8, 5),
        (8, 1, 64, 33),
        (2, 2, 5, 1),
        (4, 4, 128, 100),
        (6, 3, 12, 8),
        (2, 1, 16, 0),
        (3, 1, 20, 9),
        // More heads than the x86 kernel's group of 16, partial last tile.
        (20, 4, 24, 17),
        (40, 8, 13, 9),
    ] {
        for spread in [1.0f32, 30.0] {
            let q: Vec<f32> = r
                .normal_vec(heads * hd)
                .iter()
                .map(|v| v * spread)
                .collect();
            let k = r.normal_vec(slots * kvh * hd);
            let v = r.normal_vec(slots * kvh * hd);
            let scale = 1.0 / (hd as f32).sqrt();
            let mut sc = vec![0.0; slots + 1];
            let mut want = vec![0.0; heads * hd];
            attend_heads_scalar(
                &q,
                &k,
                &v,
                slots,
                heads,
                kvh,
                hd,
                scale,
                &mut sc,
                0..heads,
                &mut want,
            );
            let vmax = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let rep = heads / kvh;
            let mut dmax = 0.0f64;
            for h in 0..heads {
                for s in 0..slots {
                    let kr = &k[(s * kvh + h / rep) * hd..][..hd];
                    let m: f64 = (0..hd).map(|i| (q[h * hd + i] * kr[i]).abs() as f64).sum();
                    dmax = dmax.max(2.0 * (hd as f64 / 8.0 + 8.0) * EPS * scale as f64 * m);
                }
            }
            let atol = vmax * (1e-6 + 4.0 * dmax as f32);
            for path in simd_paths() {
                let mut got = vec![f32::NAN; heads * hd];
                attend_heads_on(
                    path,
                    &q,
                    &k,
                    &v,
                    slots,
                    heads,
                    kvh,
                    hd,
                    scale,
                    &mut sc,
                    0..heads,
                    &mut got,
                );
                let what = format!("{path} {heads}/{kvh}x{hd} slots {slots} spread {spread}");
                assert_close(&got, &want, atol, 2e-6, &what);
                let mut part = vec![f32::NAN; (heads - 1) * hd];
                attend_heads_on(
                    path,
                    &q,
                    &k,
                    &v,
                    slots,
                    heads,
                    kvh,
                    hd,
                    scale,
                    &mut sc,
                    1..heads,
                    &mut part,
                );
                assert_eq!(bits(&part), bits(&got[hd..]), "{what}: head range");
            }
        }
    }
}

/// An f16 cache gives exactly what its widened f32 values give on every SIMD path (the same
/// arithmetic after the load), and the scalar reference within f32 rounding of that.
#[test]
fn attention_reads_f16_rows_as_their_widened_values() {
    let mut r = Rng::new(4009);
    for (heads, kvh, hd, slots) in [
        (4, 2, 8, 5),
        (8, 1, 64, 33),
        (2, 2, 5, 1),
        (4, 4, 128, 100),
        (3, 1, 20, 9),
        (20, 4, 24, 17),
    ] {
        let q = r.normal_vec(heads * hd);
        let half = |x: &[f32]| {
            let mut h = vec![f16::ZERO; x.len()];
            f16::store(&mut h, x);
            h
        };
        let (k16, v16) = (
            half(&r.normal_vec(slots * kvh * hd)),
            half(&r.normal_vec(slots * kvh * hd)),
        );
        let wide = |h: &[f16]| h.iter().map(|v| v.to_f32()).collect::<Vec<f32>>();
        let (k, v) = (wide(&k16), wide(&v16));
        let scale = 1.0 / (hd as f32).sqrt();
        let mut sc = vec![0.0; slots + 1];
        for path in Path::supported() {
            let (mut a, mut b) = (vec![f32::NAN; heads * hd], vec![f32::NAN; heads * hd]);
            #[rustfmt::skip]
            attend_heads_on(path, &q, &k16, &v16, slots, heads, kvh, hd, scale, &mut sc, 0..heads, &mut a);
            #[rustfmt::skip]
            attend_heads_on(path, &q, &k, &v, slots, heads, kvh, hd, scale, &mut sc, 0..heads, &mut b);
            let what = format!("{path} {heads}/{kvh}x{hd} slots {slots}");
            if path == Path::Scalar {
                // The f16 reference sums q·k in order, the f32 one in 8 lanes.
                assert_close(&a, &b, 1e-5, 1e-5, &what);
            } else {
                assert_eq!(bits(&a), bits(&b), "{what}");
            }
        }
    }
}

#[test]
fn no_op_allocates_on_any_path() {
    let _ = selected_path();
    let mut r = Rng::new(4008);
    let (x, w) = (r.normal_vec(64), r.normal_vec(64));
    let cw = r.normal_vec(256);
    let mut out = vec![0.0; 64];
    let mut conv_state = r.normal_vec(256);
    let dm = Mamba2Dims {
        nh: 4,
        p: 2,
        n: 8,
        g: 1,
    };
    let mut s2 = vec![0.0; 64];
    let mut s1 = vec![0.0; 64 * 4];
    let a1 = vec![-1.0; 64 * 4];
    let mut sc = [0.0; 8];
    let h16 = vec![f16::from_f32(0.5); 64];
    for path in Path::supported() {
        let (n, ()) = alloc_count::count(|| {
            exp_inplace_on(path, &mut out);
            silu_mul_on(path, &x, &w, &mut out);
            rms_norm_on(path, &x, &w, 1e-5, &mut out);
            gated_rms_norm_on(path, &x, &w, &w, 2, 1e-5, &mut out);
            conv1d_step_on(path, &mut conv_state, &x, &cw, Some(&w), &mut out, true);
            ssm_step_mamba1_on(path, &mut s1, &x, &w, &a1, &x[..4], &w[..4], &x, &mut out);
            let (x8, y8) = (&x[..8], &mut out[..8]);
            ssm_step_mamba2_heads_on(
                path,
                &mut s2,
                x8,
                &w[..4],
                &a1[..4],
                &x[..8],
                &w[..8],
                &x[..4],
                dm,
                0..4,
                y8,
            );
            attend_heads_on(
                path,
                &x[..16],
                &w,
                &x,
                4,
                2,
                1,
                8,
                0.3,
                &mut sc,
                0..2,
                &mut out[..16],
            );
            attend_heads_on(
                path,
                &x[..16],
                &h16,
                &h16,
                4,
                2,
                1,
                8,
                0.3,
                &mut sc,
                0..2,
                &mut out[..16],
            );
        });
        assert_eq!(n, 0, "{path}: {n} allocations");
    }
}

/// Prefill conv over rows == that many conv steps on the same path, bit for bit (outputs and
/// state): strided input rows, channel counts with and without a vector tail, 0..17 rows (the
/// first rows read the state's inputs), with and without bias and SiLU, and K = 3 (the steps).
#[test]
fn conv_rows_equal_steps_bit_for_bit() {
    let mut r = Rng::new(4020);
    let mut paths = simd_paths();
    paths.push(Path::Scalar);
    for (c, k) in [(8, 4), (13, 4), (5, 4), (64, 4), (6, 3)] {
        for rows in [0, 1, 2, 3, 4, 5, 17] {
            for (with_bias, silu) in [(true, true), (false, false), (true, false)] {
                let stride = c + 3;
                let x = r.normal_vec(rows * stride + 2);
                let w = r.normal_vec(c * k);
                let bias = with_bias.then(|| r.normal_vec(c));
                let s0 = r.normal_vec(c * k);
                for &path in &paths {
                    let (mut s_ref, mut want) = (s0.clone(), vec![0.0; rows * c]);
                    for t in 0..rows {
                        conv1d_step_on(
                            path,
                            &mut s_ref,
                            &x[1 + t * stride..1 + t * stride + c],
                            &w,
                            bias.as_deref(),
                            &mut want[t * c..(t + 1) * c],
                            silu,
                        );
                    }
                    let mut s = s0.clone();
                    let mut got = vec![0.0; rows * c];
                    let mut scratch = vec![0.0; conv1d_rows_scratch_len(c)];
                    let mut outs: Vec<&mut [f32]> = got.chunks_mut(c).collect();
                    let mut out = |t: usize| std::mem::take(&mut outs[t]);
                    let xs = Strided {
                        data: &x[1..],
                        stride,
                    };
                    conv1d_rows_on(
                        path,
                        &mut s,
                        xs,
                        c,
                        rows,
                        &w,
                        bias.as_deref(),
                        silu,
                        &mut scratch,
                        &mut out,
                    );
                    let case =
                        format!("{path} c={c} k={k} rows={rows} bias={with_bias} silu={silu}");
                    assert_eq!(bits(&got), bits(&want), "{case}: out");
                    assert_eq!(bits(&s), bits(&s_ref), "{case}: state");
                }
            }
        }
    }
}
