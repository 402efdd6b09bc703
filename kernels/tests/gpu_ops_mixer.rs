//! GPU norms, conv step, softplus, Mamba-1/2 scans, GLUs and elementwise ops against the CPU
//! kernels on every tier. Tolerance: 2e-5 · max|cpu| + 1e-5 (reductions sum in another order;
//! exp/log are the GPU's), state included, over several sequential rows.
#![cfg(feature = "gpu")]

mod gpu_common;

use gpu_common::{Harness, Rng, close, contexts, dense, step};
use weft_kernels::cpu::{act, conv, norm, ssm};
use weft_kernels::gpu::ops::{self, Glu, ScanViews};
use weft_kernels::gpu::{Rows, View};

const TOL: (f32, f32) = (2e-5, 1e-5);

#[test]
fn rms_norms_match_cpu() {
    for ctx in contexts() {
        let (len, n) = (1000, 3);
        let mut r = Rng::new(1);
        let (x, z, w) = (r.vec(n * len), r.vec(n * len), r.vec(len));
        let mut h = Harness::new(ctx, 5 * n * len, n);
        h.put(0, &x);
        h.put(n * len, &z);
        let wb = h.buffer(&w);
        let (a, b, c) = (2 * n * len, 3 * n * len, 3 * n * len + len);
        h.run(step(n, 0), |rec| {
            ops::rms_norm(rec, dense(0, len), dense(a, len), Some(&wb), 1e-5)?;
            let last = View {
                rows: Rows::Last,
                ..dense(0, len)
            };
            ops::rms_norm(rec, last, View::one(b, len), None, 1e-6)?;
            ops::gated_rms_norm(
                rec,
                dense(0, 200),
                dense(n * len, 200),
                View {
                    stride: len,
                    ..dense(c, 200)
                },
                &wb,
                50,
                1e-5,
            )
        });
        let got = h.get(a, n * len);
        for t in 0..n {
            let mut want = vec![0.0; len];
            norm::rms_norm(&x[t * len..(t + 1) * len], &w, 1e-5, &mut want);
            close(
                "rms_norm",
                &got[t * len..(t + 1) * len],
                &want,
                TOL.0,
                TOL.1,
            );
        }
        let mut want = vec![0.0; len];
        norm::rms_norm_no_weight(&x[(n - 1) * len..], 1e-6, &mut want);
        close(
            "rms_norm last, no weight",
            &h.get(b, len),
            &want,
            TOL.0,
            TOL.1,
        );
        // Gated: rows of 200 floats read 200 apart, written `len` apart; 4 groups of 50.
        for t in 0..n {
            let mut want = vec![0.0; 200];
            let (xs, zs) = (&x[t * 200..t * 200 + 200], &z[t * 200..t * 200 + 200]);
            norm::gated_rms_norm(xs, zs, &w[..200], 4, 1e-5, &mut want);
            close("gated", &h.get(c + t * len, 200), &want, TOL.0, TOL.1);
        }
    }
}

#[test]
fn conv_step_and_state_match_cpu_over_rows() {
    for ctx in contexts() {
        let (c, k, n) = (300, 4, 3);
        let mut r = Rng::new(2);
        let (x, w, b, s0) = (r.vec(n * c), r.vec(c * k), r.vec(c), r.vec(c * k));
        let mut h = Harness::new(ctx, 2 * n * c, n);
        h.put(0, &x);
        let (sb, wb, bb) = (h.buffer(&s0), h.buffer(&w), h.buffer(&b));
        h.run(step(n, 0), |rec| {
            ops::conv1d_silu(rec, dense(0, c), dense(n * c, c), &sb, &wb, Some(&bb), k)
        });
        let mut state = s0.clone();
        let got = h.get(n * c, n * c);
        for t in 0..n {
            let mut want = vec![0.0; c];
            conv::conv1d_step_silu(&mut state, &x[t * c..(t + 1) * c], &w, Some(&b), &mut want);
            close("conv", &got[t * c..(t + 1) * c], &want, TOL.0, TOL.1);
        }
        assert_eq!(h.read(&sb), state, "conv state is a shift: exact");
    }
}

#[test]
fn softplus_glu_and_elementwise_match_cpu() {
    for ctx in contexts() {
        let (len, n) = (300, 2);
        let mut r = Rng::new(3);
        let mut x = r.vec(n * len);
        x[0] = 30.0;
        x[1] = -30.0;
        let (g, u, bias) = (r.vec(n * len), r.vec(n * len), r.vec(len));
        let mut h = Harness::new(ctx, 10 * n * len, n);
        let o = |i: usize| i * n * len;
        h.put(o(0), &x);
        h.put(o(1), &g);
        h.put(o(2), &u);
        h.put(o(8), &x);
        let bb = h.buffer(&bias);
        let route = [0.25, 3.0];
        h.put(o(9), &[route[0], route[1], route[0], route[1]]);
        h.run(step(n, 0), |rec| {
            ops::softplus(rec, dense(o(0), len), Some(&bb), Some(0.01))?;
            ops::glu(
                rec,
                Glu::Silu,
                dense(o(1), len),
                dense(o(2), len),
                dense(o(3), len),
            )?;
            ops::glu(
                rec,
                Glu::Gelu,
                dense(o(1), len),
                dense(o(2), len),
                dense(o(4), len),
            )?;
            ops::add(rec, dense(o(1), len), dense(o(2), len), dense(o(5), len))?;
            ops::copy(rec, dense(o(1), len), dense(o(6), len))?;
            ops::add_bias(rec, dense(o(6), len), &bb)?;
            ops::zero(rec, dense(o(7), len))?;
            ops::scale_add(
                rec,
                dense(o(8), len),
                dense(o(2), len),
                dense(o(9), 2),
                1,
                0,
            )
        });
        let rows = |f: &dyn Fn(usize) -> f32| (0..n * len).map(f).collect::<Vec<f32>>();
        let sp = rows(&|i| act::softplus(x[i] + bias[i % len]).max(0.01));
        close("softplus", &h.get(o(0), n * len), &sp, TOL.0, TOL.1);
        let mut want = vec![0.0; n * len];
        act::silu_mul(&g, &u, &mut want);
        close("swiglu", &h.get(o(3), n * len), &want, TOL.0, TOL.1);
        act::gelu_mul(&g, &u, &mut want);
        close("geglu", &h.get(o(4), n * len), &want, TOL.0, TOL.1);
        close(
            "add",
            &h.get(o(5), n * len),
            &rows(&|i| g[i] + u[i]),
            0.0,
            0.0,
        );
        close(
            "copy + bias",
            &h.get(o(6), n * len),
            &rows(&|i| g[i] + bias[i % len]),
            0.0,
            0.0,
        );
        assert!(h.get(o(7), n * len).iter().all(|&v| v == 0.0));
        close(
            "scale_add",
            &h.get(o(8), n * len),
            &rows(&|i| x[i] + 0.25 * u[i]),
            0.0,
            1e-6,
        );
    }
}

/// Two copies in one dispatch (`copy2`, a concatenation's halves): each destination gets its
/// source, per token, with different widths and a one-row source beside a per-token one.
#[test]
fn copy_pair_copies_both() {
    for ctx in contexts() {
        let (a, b, n) = (300, 70, 2);
        let mut r = Rng::new(4);
        let (xa, xb) = (r.vec(n * a), r.vec(b));
        // Arena: xa [n, a] | xb [b] | y [n, a + b] (the concatenation).
        let (yo, w) = (n * a + b, a + b);
        let mut h = Harness::new(ctx, yo + n * w, n);
        h.put(0, &xa);
        h.put(n * a, &xb);
        let strided = |off, width| View {
            off,
            stride: w,
            width,
            rows: Rows::All,
        };
        h.run(step(n, 0), |rec| {
            ops::copy2(
                rec,
                (dense(0, a), strided(yo, a)),
                (View::one(n * a, b), strided(yo + a, b)),
            )
        });
        let got = h.get(yo, n * w);
        for t in 0..n {
            assert_eq!(
                got[t * w..t * w + a],
                xa[t * a..(t + 1) * a],
                "first half, token {t}"
            );
            assert_eq!(
                got[t * w + a..(t + 1) * w],
                xb[..],
                "second half, token {t}"
            );
        }
    }
}

#[test]
fn mamba1_scan_matches_cpu_over_rows() {
    for ctx in contexts() {
        let (i, ns, n) = (100, 16, 3);
        let mut r = Rng::new(4);
        let a: Vec<f32> = r.uniform(i * ns, -3.0, -0.1);
        let (d, s0) = (r.vec(i), r.vec(i * ns));
        let (x, b, c) = (r.vec(n * i), r.vec(n * ns), r.vec(n * ns));
        let dt = r.uniform(n * i, 0.001, 0.5);
        let mut h = Harness::new(ctx, 8 * n * i, n);
        let v = ScanViews {
            x: dense(0, i),
            dt: dense(n * i, i),
            b: dense(2 * n * i, ns),
            c: dense(3 * n * i, ns),
            y: dense(4 * n * i, i),
        };
        h.put(0, &x);
        h.put(n * i, &dt);
        h.put(2 * n * i, &b);
        h.put(3 * n * i, &c);
        let (sb, ab, db) = (h.buffer(&s0), h.buffer(&a), h.buffer(&d));
        h.run(step(n, 0), |rec| ops::ssm_scan1(rec, v, &sb, &ab, &db));
        let mut state = s0;
        let got = h.get(4 * n * i, n * i);
        for t in 0..n {
            let mut want = vec![0.0; i];
            let (tr, nr) = (t * i..(t + 1) * i, t * ns..(t + 1) * ns);
            ssm::ssm_step_mamba1(
                &mut state,
                &x[tr.clone()],
                &dt[tr.clone()],
                &a,
                &b[nr.clone()],
                &c[nr],
                &d,
                &mut want,
            );
            close("scan1 y", &got[tr], &want, TOL.0, TOL.1);
        }
        close("scan1 state", &h.read(&sb), &state, TOL.0, TOL.1);
    }
}

#[test]
fn mamba2_scan_matches_cpu_over_rows_with_groups() {
    for ctx in contexts() {
        let dims = ssm::Mamba2Dims {
            nh: 8,
            p: 16,
            n: 64,
            g: 2,
        };
        let (inner, gn, n) = (dims.nh * dims.p, dims.g * dims.n, 3);
        let mut r = Rng::new(5);
        let a = r.uniform(dims.nh, -4.0, -0.5);
        let (d, s0) = (r.vec(dims.nh), r.vec(inner * dims.n));
        let (x, b, c) = (r.vec(n * inner), r.vec(n * gn), r.vec(n * gn));
        let dt = r.uniform(n * dims.nh, 0.001, 0.5);
        let mut h = Harness::new(ctx, 4096, n);
        let v = ScanViews {
            x: dense(0, inner),
            dt: dense(512, dims.nh),
            b: dense(1024, gn),
            c: dense(1536, gn),
            y: dense(2048, inner),
        };
        h.put(0, &x);
        h.put(512, &dt);
        h.put(1024, &b);
        h.put(1536, &c);
        let (sb, ab, db) = (h.buffer(&s0), h.buffer(&a), h.buffer(&d));
        h.run(step(n, 0), |rec| {
            ops::ssm_scan2(rec, v, &sb, &ab, &db, dims.nh, dims.g)
        });
        let mut state = s0;
        let got = h.get(2048, n * inner);
        for t in 0..n {
            let mut want = vec![0.0; inner];
            let (xr, hr, gr) = (
                t * inner..(t + 1) * inner,
                t * dims.nh..(t + 1) * dims.nh,
                t * gn..(t + 1) * gn,
            );
            ssm::ssm_step_mamba2(
                &mut state,
                &x[xr.clone()],
                &dt[hr],
                &a,
                &b[gr.clone()],
                &c[gr],
                &d,
                dims,
                &mut want,
            );
            close("scan2 y", &got[xr], &want, TOL.0, TOL.1);
        }
        close("scan2 state", &h.read(&sb), &state, TOL.0, TOL.1);
    }
}
