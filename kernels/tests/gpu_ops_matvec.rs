//! GPU matvec / matmul, expert matvec, LoRA and embedding lookup against the CPU kernels, for
//! every weight type, on every tier the adapter has. Tolerance: |gpu − cpu| ≤ 2e-5 · max|cpu|
//! + 1e-5 (f32 accumulation in a different order; the weights decode exactly).
#![cfg(feature = "gpu")]

mod gpu_common;

use gpu_common::{Harness, Rng, close, contexts, dense, step};
use weft_kernels::GgmlType;
use weft_kernels::cpu::matvec::{WeightView, dequantize_row_into, matvec};
use weft_kernels::cpu::{act, norm};
use weft_kernels::gpu::ops::{ConvEpilogue, Epilogue, FusedNorm, Glu, GluIn};
use weft_kernels::gpu::repack::{GpuType, layout};
use weft_kernels::gpu::{GpuMatrix, Rows, View, ops};
use weft_kernels::quant::quantize;

const TYPES: [GgmlType; 7] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

/// `x` encoded as `ty`; K-quants (which weft does not quantize) get random blocks with
/// finite, small scales.
fn encode(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    match ty {
        GgmlType::F32 => x.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlType::Q4_K | GgmlType::Q6_K => {
            let mut r = Rng::new(x.len() as u64);
            let n = x.len() / 256 * ty.block_bytes();
            let mut b: Vec<u8> = (0..n).map(|_| (r.u01() * 256.0) as u8).collect();
            let half = half::f16::from_f32(0.01).to_le_bytes();
            for blk in b.chunks_exact_mut(ty.block_bytes()) {
                if ty == GgmlType::Q4_K {
                    blk[..2].copy_from_slice(&half);
                    blk[2..4].copy_from_slice(&half);
                } else {
                    let l = blk.len();
                    blk[l - 2..].copy_from_slice(&half);
                }
            }
            b
        }
        _ => quantize(ty, x).unwrap(),
    }
}

fn cpu_matvec(w: &WeightView, x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; w.rows];
    matvec(w, x, &mut y);
    y
}

#[test]
fn matvec_and_matmul_match_cpu_for_every_type() {
    for ctx in contexts() {
        for (ty, cols) in TYPES
            .iter()
            .map(|t| (*t, 512))
            .chain([(GgmlType::Q8_0, 800), (GgmlType::Q8_0, 96)])
            .chain([(GgmlType::Q4_0, 800), (GgmlType::Q4_0, 96)])
            // Several staging tiles of matvec1 (1024 columns each), the last one partial.
            .chain([(GgmlType::Q8_0, 4640), (GgmlType::Q4_0, 2592)])
        {
            let (rows, n) = (67, 5);
            let mut r = Rng::new(ty.id() as u64 + 1);
            let bytes = encode(ty, &r.vec(rows * cols));
            let w = WeightView::new(ty, &bytes, rows, cols).unwrap();
            let x = r.vec(n * cols);
            let gw = GpuMatrix::upload(ctx, "w", &[w]).unwrap();
            // Sharded copy: at most ~12 rows per binding.
            let gt = GpuType::of(ty).unwrap();
            let limit = layout(gt, 12, cols as u64).bytes;
            let sharded = GpuMatrix::upload_limited(ctx, "w", &[w], limit).unwrap();
            assert!(sharded.shards.len() > 1);
            let (xo, yo, y2) = (0, n * cols, n * cols + n * rows);
            for (m, label) in [(&gw, "whole"), (&sharded, "sharded")] {
                for tokens in [1, n] {
                    let mut h = Harness::new(ctx, y2 + n * rows, tokens);
                    h.put(xo, &x);
                    h.run(step(tokens, 0), |rec| {
                        ops::matvec(rec, m, dense(xo, cols), dense(yo, rows), false)
                    });
                    let got = h.get(yo, tokens * rows);
                    for t in 0..tokens {
                        let want = cpu_matvec(&w, &x[t * cols..(t + 1) * cols]);
                        let what = format!("{ty} {cols} {label} n={tokens} t={t} {:?}", ctx.tier);
                        close(&what, &got[t * rows..(t + 1) * rows], &want, 2e-5, 1e-5);
                    }
                }
            }
        }
    }
}

#[test]
fn matvec_accumulates_and_reads_strided_and_last_rows() {
    for ctx in contexts() {
        let (rows, cols, n) = (40, 64, 3);
        let mut r = Rng::new(9);
        let bytes = encode(GgmlType::Q8_0, &r.vec(rows * cols));
        let w = WeightView::new(GgmlType::Q8_0, &bytes, rows, cols).unwrap();
        let gw = GpuMatrix::upload(ctx, "w", &[w]).unwrap();
        let x = r.vec(n * 2 * cols); // rows 2·cols apart, width cols
        let y0 = r.vec(rows);
        let mut h = Harness::new(ctx, 4096, n);
        h.put(0, &x);
        h.put(3000, &y0);
        let xv = View {
            off: 0,
            stride: 2 * cols,
            width: cols,
            rows: Rows::Last,
        };
        h.run(step(n, 0), |rec| {
            ops::matvec(rec, &gw, xv, View::one(3000, rows), true)
        });
        let last = &x[(n - 1) * 2 * cols..(n - 1) * 2 * cols + cols];
        let want: Vec<f32> = cpu_matvec(&w, last)
            .iter()
            .zip(&y0)
            .map(|(a, b)| a + b)
            .collect();
        close("accumulate last row", &h.get(3000, rows), &want, 2e-5, 1e-5);
    }
}

/// The fused matvec (norm / gated norm prologue, softplus rows and residual add epilogue) against
/// the CPU composition of the ops it replaces: norm, matvec, softplus in place, add.
#[test]
fn fused_matvec_matches_the_cpu_op_chain() {
    for ctx in contexts() {
        for (ty, cols, gated, has_w) in [
            (GgmlType::Q8_0, 800, false, true),
            (GgmlType::Q8_0, 512, true, true),
            (GgmlType::Q4_0, 256, false, false),
            (GgmlType::Q4_0, 2592, true, true),
            (GgmlType::Q8_0, 4640, true, false),
            (GgmlType::F16, 96, true, true),
        ] {
            let (rows, n, eps) = (70, 5, 1e-5);
            let (sp_lo, sp_len) = (60, 7);
            let mut r = Rng::new(cols as u64 + gated as u64);
            let bytes = encode(ty, &r.vec(rows * cols));
            let w = WeightView::new(ty, &bytes, rows, cols).unwrap();
            let gw = GpuMatrix::upload(ctx, "w", &[w]).unwrap();
            let (x, z, nw) = (r.vec(n * cols), r.vec(n * cols), r.vec(cols));
            let (a, bias) = (r.vec(n * rows), r.vec(sp_len));
            // Arena: x | z | xn | y | a | o.
            let (xo, zo, no) = (0, n * cols, 2 * n * cols);
            let (yo, ao, oo) = (
                3 * n * cols,
                3 * n * cols + n * rows,
                3 * n * cols + 2 * n * rows,
            );
            for tokens in [1, n] {
                let mut h = Harness::new(ctx, oo + n * rows, tokens);
                h.put(xo, &x);
                h.put(zo, &z);
                h.put(ao, &a);
                let (nwb, bb) = (h.buffer(&nw), h.buffer(&bias));
                let fused = FusedNorm {
                    z: gated.then(|| dense(zo, cols)),
                    w: has_w.then(|| nwb.clone()),
                    eps,
                    // One case leaves the normalised row unwritten (no later reader).
                    out: (cols != 2592).then(|| dense(no, cols)),
                };
                let epi = Epilogue {
                    softplus: Some((sp_lo, sp_len, Some(bb.clone()), Some(0.01))),
                    add: Some((dense(ao, rows), dense(oo, rows))),
                    conv: None,
                };
                h.run(step(tokens, 0), |rec| {
                    ops::matvec_fused(
                        rec,
                        &gw,
                        dense(xo, cols),
                        dense(yo, rows),
                        Some(&fused),
                        &epi,
                    )
                });
                let (got_n, got_y, got_o) = (
                    h.get(no, tokens * cols),
                    h.get(yo, tokens * rows),
                    h.get(oo, tokens * rows),
                );
                for t in 0..tokens {
                    let (xs, zs) = (&x[t * cols..(t + 1) * cols], &z[t * cols..(t + 1) * cols]);
                    let ones = vec![1.0; cols];
                    let wv = if has_w { &nw } else { &ones };
                    let mut xn = vec![0.0; cols];
                    if gated {
                        norm::gated_rms_norm(xs, zs, wv, 1, eps, &mut xn);
                    } else {
                        norm::rms_norm(xs, wv, eps, &mut xn);
                    }
                    let mut y = cpu_matvec(&w, &xn);
                    for (i, v) in y[sp_lo..sp_lo + sp_len].iter_mut().enumerate() {
                        *v = act::softplus(*v + bias[i]).max(0.01);
                    }
                    let o: Vec<f32> = y.iter().zip(&a[t * rows..]).map(|(y, a)| a + y).collect();
                    let what = format!("{ty} {cols} gated={gated} n={tokens} t={t} {:?}", ctx.tier);
                    if fused.out.is_none() {
                        xn.iter_mut().for_each(|v| *v = 0.0); // the arena's initial zeros
                    }
                    close(
                        &format!("{what} xn"),
                        &got_n[t * cols..(t + 1) * cols],
                        &xn,
                        2e-5,
                        1e-5,
                    );
                    close(
                        &format!("{what} y"),
                        &got_y[t * rows..(t + 1) * rows],
                        &y,
                        2e-5,
                        1e-5,
                    );
                    close(
                        &format!("{what} o"),
                        &got_o[t * rows..(t + 1) * rows],
                        &o,
                        2e-5,
                        1e-5,
                    );
                }
            }
        }
    }
}

/// The conv step fused behind a one-token matvec (matvec1's CONV: Mamba-2's in_proj → conv)
/// against the same matvec and conv1d_silu as two dispatches, over three steps so the state
/// carries: the same outputs (the conv sums in the same order) and the same state (a shift,
/// exact). Softplus rows sit beside the conv rows; both row forms (MR1 under 4096 rows).
#[test]
fn conv_epilogue_matches_matvec_then_conv() {
    for ctx in contexts().iter().filter(|c| c.storage_buffers() >= 7) {
        for (ty, rows, with_bias) in [
            (GgmlType::Q8_0, 70, true),
            (GgmlType::Q4_0, 70, false),
            (GgmlType::Q8_0, 4200, false),
            (GgmlType::Q4_0, 4104, true),
        ] {
            let (cols, k, steps) = (256, 4, 3);
            let (lo, ch) = (rows / 4, rows / 2);
            let (sp_lo, sp_len) = (rows - 5, 5);
            let mut r = Rng::new(rows as u64 + with_bias as u64);
            let bytes = encode(ty, &r.vec(rows * cols));
            let w = WeightView::new(ty, &bytes, rows, cols).unwrap();
            let gw = GpuMatrix::upload(ctx, "w", &[w]).unwrap();
            let (cw, cb, s0) = (r.vec(ch * k), r.vec(ch), r.vec(ch * k));
            // Arena: x | y (fused) | conv y (fused) | y (two dispatches) | conv y (two).
            let (yo, co) = (cols, cols + rows);
            let (y2o, c2o) = (cols + rows + ch, cols + 2 * rows + ch);
            let mut h = Harness::new(ctx, c2o + ch, 1);
            let (sa, sb) = (h.buffer(&s0), h.buffer(&s0));
            let (wb, bb) = (h.buffer(&cw), h.buffer(&cb));
            let b = with_bias.then(|| bb.clone());
            let sp = || Some((sp_lo, sp_len, None, Some(0.01)));
            for t in 0..steps {
                h.put(0, &r.vec(cols));
                let conv = ConvEpilogue {
                    lo,
                    y: dense(co, ch),
                    state: sa.clone(),
                    w: wb.clone(),
                    b: b.clone(),
                    k,
                };
                let epi = Epilogue {
                    softplus: sp(),
                    add: None,
                    conv: Some(conv),
                };
                h.run(step(1, t), |rec| {
                    ops::matvec_fused(rec, &gw, dense(0, cols), dense(yo, rows), None, &epi)
                });
                let plain = Epilogue {
                    softplus: sp(),
                    ..Default::default()
                };
                h.run(step(1, t), |rec| {
                    ops::matvec_fused(rec, &gw, dense(0, cols), dense(y2o, rows), None, &plain)?;
                    ops::conv1d_silu(
                        rec,
                        dense(y2o + lo, ch),
                        dense(c2o, ch),
                        &sb,
                        &wb,
                        b.as_ref(),
                        k,
                    )
                });
                let what = format!("{ty} {rows} rows bias={with_bias} step {t} {:?}", ctx.tier);
                assert_eq!(h.get(yo, rows), h.get(y2o, rows), "{what}: y");
                close(
                    &format!("{what}: conv"),
                    &h.get(co, ch),
                    &h.get(c2o, ch),
                    1e-6,
                    1e-7,
                );
                assert_eq!(h.read(&sa), h.read(&sb), "{what}: conv state");
            }
        }
    }
}

/// The GLU product fused in front of a one-token matvec (matvec1's GATED without NORM, and
/// GELU) against `glu` then the matvec as two dispatches, with the residual-add epilogue, both
/// row forms: the same x̂ (same product), so the same outputs up to the f32 sum order (≤ 1e-6).
#[test]
fn glu_prologue_matches_glu_then_matvec() {
    for ctx in contexts() {
        for (ty, rows, act) in [
            (GgmlType::Q8_0, 70, Glu::Silu),
            (GgmlType::Q4_0, 4104, Glu::Gelu),
            (GgmlType::Q8_0, 4200, Glu::Gelu),
            (GgmlType::Q4_0, 90, Glu::Silu),
        ] {
            let cols = 544; // a partial last tile
            let mut r = Rng::new(rows as u64 + cols as u64);
            let bytes = encode(ty, &r.vec(rows * cols));
            let w = WeightView::new(ty, &bytes, rows, cols).unwrap();
            let gw = GpuMatrix::upload(ctx, "w", &[w]).unwrap();
            // Arena: gate | up | product | y (fused) | y (two dispatches) | a | o | o2.
            let (go, uo, to) = (0, cols, 2 * cols);
            let (yo, y2o, ao) = (3 * cols, 3 * cols + rows, 3 * cols + 2 * rows);
            let (oo, o2o) = (3 * cols + 3 * rows, 3 * cols + 4 * rows);
            let mut h = Harness::new(ctx, o2o + rows, 1);
            h.put(go, &r.vec(cols));
            h.put(uo, &r.vec(cols));
            h.put(ao, &r.vec(rows));
            let add = |o| Epilogue {
                add: Some((dense(ao, rows), dense(o, rows))),
                ..Default::default()
            };
            let glu = GluIn {
                gate: dense(go, cols),
                act,
            };
            h.run(step(1, 0), |rec| {
                ops::matvec_glu(rec, &gw, dense(uo, cols), &glu, dense(yo, rows), &add(oo))?;
                ops::glu(rec, act, dense(go, cols), dense(uo, cols), dense(to, cols))?;
                ops::matvec_fused(rec, &gw, dense(to, cols), dense(y2o, rows), None, &add(o2o))
            });
            let what = format!("{ty} {rows} rows {act:?} {:?}", ctx.tier);
            close(
                &format!("{what}: y"),
                &h.get(yo, rows),
                &h.get(y2o, rows),
                1e-6,
                1e-6,
            );
            close(
                &format!("{what}: o"),
                &h.get(oo, rows),
                &h.get(o2o, rows),
                1e-6,
                1e-6,
            );
        }
    }
}

#[test]
fn lora_is_two_matvecs() {
    for ctx in contexts() {
        let (h_dim, rank, out) = (64, 8, 48);
        let mut r = Rng::new(10);
        let (a, b) = (r.vec(rank * h_dim), r.vec(out * rank));
        let (ab, bb) = (encode(GgmlType::F32, &a), encode(GgmlType::F32, &b));
        let wa = WeightView::new(GgmlType::F32, &ab, rank, h_dim).unwrap();
        let wb = WeightView::new(GgmlType::F32, &bb, out, rank).unwrap();
        let (ga, gb) = (
            GpuMatrix::upload(ctx, "a", &[wa]).unwrap(),
            GpuMatrix::upload(ctx, "b", &[wb]).unwrap(),
        );
        let (x, y0) = (r.vec(h_dim), r.vec(out));
        let mut h = Harness::new(ctx, 1024, 1);
        h.put(0, &x);
        h.put(512, &y0);
        h.run(step(1, 0), |rec| {
            ops::lora(
                rec,
                &ga,
                &gb,
                View::one(0, h_dim),
                View::one(256, rank),
                View::one(512, out),
            )
        });
        let t = cpu_matvec(&wa, &x);
        let want: Vec<f32> = cpu_matvec(&wb, &t)
            .iter()
            .zip(&y0)
            .map(|(a, b)| a + b)
            .collect();
        close("lora", &h.get(512, out), &want, 2e-5, 1e-5);
    }
}

#[test]
fn expert_matvec_picks_each_tokens_expert() {
    for ctx in contexts() {
        let (e, rows, cols, n, k) = (4, 24, 64, 3, 2);
        let mut r = Rng::new(11);
        let bytes: Vec<Vec<u8>> = (0..e)
            .map(|_| encode(GgmlType::Q4_0, &r.vec(rows * cols)))
            .collect();
        let views: Vec<WeightView> = bytes
            .iter()
            .map(|b| WeightView::new(GgmlType::Q4_0, b, rows, cols).unwrap())
            .collect();
        let whole = GpuMatrix::upload(ctx, "experts", &views).unwrap();
        // Room for one expert (rows padded to 512 columns), not two.
        let one = layout(GpuType::Q4_0, rows as u64, cols as u64).bytes;
        let one_per_shard =
            GpuMatrix::upload_limited(ctx, "experts", &views, one + one / 2).unwrap();
        assert_eq!(one_per_shard.shards.len(), e);
        let x = r.vec(n * cols);
        // Routes: [w0, w1, e0, e1] per token.
        let route = [0.6, 0.3, 2.0, 0.0, 0.5, 0.4, 1.0, 3.0, 0.9, 0.1, 3.0, 2.0];
        for m in [&whole, &one_per_shard] {
            for slot in 0..k {
                let mut h = Harness::new(ctx, 2048, n);
                h.put(0, &x);
                h.put(1024, &route);
                h.run(step(n, 0), |rec| {
                    ops::expert_matvec(
                        rec,
                        m,
                        dense(0, cols),
                        dense(512, rows),
                        dense(1024, 2 * k),
                        k,
                        slot,
                    )
                });
                let got = h.get(512, n * rows);
                for t in 0..n {
                    let ex = route[t * 4 + 2 + slot] as usize;
                    let want = cpu_matvec(&views[ex], &x[t * cols..(t + 1) * cols]);
                    close("expert", &got[t * rows..(t + 1) * rows], &want, 2e-5, 1e-5);
                }
            }
        }
    }
}

#[test]
fn embedding_rows_match_cpu_dequantization() {
    for ctx in contexts() {
        for ty in TYPES {
            let (rows, cols) = (50, 768);
            let mut r = Rng::new(20 + ty.id() as u64);
            let bytes = encode(ty, &r.vec(rows * cols));
            let w = WeightView::new(ty, &bytes, rows, cols).unwrap();
            let limit = layout(GpuType::of(ty).unwrap(), 16, cols as u64).bytes;
            let table = GpuMatrix::upload_limited(ctx, "embd", &[w], limit).unwrap();
            assert!(table.shards.len() > 1);
            let ids = [7u32, 0, 49];
            let mut h = Harness::new(ctx, 3 * cols, 3);
            let tok = h.buffer(&ids.map(f32::from_bits));
            h.run(step(3, 0), |rec| {
                ops::embed(rec, &table, &tok, 0, dense(0, cols))
            });
            let got = h.get(0, 3 * cols);
            for (t, &id) in ids.iter().enumerate() {
                let mut want = vec![0.0; cols];
                dequantize_row_into(&w, id as usize, &mut want);
                assert_eq!(
                    &got[t * cols..(t + 1) * cols],
                    &want[..],
                    "{ty} row {id}: exact"
                );
            }
        }
    }
}

#[test]
fn shape_errors_are_typed_before_any_gpu_object() {
    for ctx in contexts() {
        let bytes = encode(GgmlType::F32, &[0.0; 64]);
        let w = WeightView::new(GgmlType::F32, &bytes, 8, 8).unwrap();
        let gw = GpuMatrix::upload(ctx, "w", &[w]).unwrap();
        let mut h = Harness::new(ctx, 64, 1);
        let mut rec = weft_kernels::gpu::Recorder::new(ctx, &mut h.pipes, &h.step, &h.arena, 1);
        let e = ops::matvec(&mut rec, &gw, View::one(0, 7), View::one(8, 8), false).unwrap_err();
        assert!(e.to_string().contains("width 7"), "{e}");
        let e = ops::matvec(&mut rec, &gw, View::one(0, 8), View::one(60, 8), false).unwrap_err();
        assert!(e.to_string().contains("arena"), "{e}");
    }
}

/// matvec1's two-rows-per-lane-group form (shards of ≥ 4096 rows; the tests above take its
/// one-row form), plain and behind a gated norm, with a partial last workgroup.
#[test]
fn one_token_matvec_of_many_rows_matches_cpu() {
    for ctx in contexts() {
        for (ty, cols) in [(GgmlType::Q8_0, 2592), (GgmlType::Q4_0, 1056)] {
            let rows = 4100;
            let mut r = Rng::new(rows as u64 + cols as u64);
            let bytes = encode(ty, &r.vec(rows * cols));
            let w = WeightView::new(ty, &bytes, rows, cols).unwrap();
            let gw = GpuMatrix::upload(ctx, "w", &[w]).unwrap();
            let (x, z, nw) = (r.vec(cols), r.vec(cols), r.vec(cols));
            let (xo, zo, yo) = (0, cols, 2 * cols);
            let mut h = Harness::new(ctx, 2 * cols + rows, 1);
            h.put(xo, &x);
            h.put(zo, &z);
            h.run(step(1, 0), |rec| {
                ops::matvec(rec, &gw, dense(xo, cols), dense(yo, rows), false)
            });
            let what = format!("{ty} {rows}x{cols} {:?}", ctx.tier);
            close(&what, &h.get(yo, rows), &cpu_matvec(&w, &x), 2e-5, 1e-5);
            let nwb = h.buffer(&nw);
            let fused = FusedNorm {
                z: Some(dense(zo, cols)),
                w: Some(nwb),
                eps: 1e-5,
                out: None,
            };
            h.run(step(1, 0), |rec| {
                let (xv, yv) = (dense(xo, cols), dense(yo, rows));
                ops::matvec_fused(rec, &gw, xv, yv, Some(&fused), &Epilogue::default())
            });
            let mut xn = vec![0.0; cols];
            norm::gated_rms_norm(&x, &z, &nw, 1, 1e-5, &mut xn);
            let want = cpu_matvec(&w, &xn);
            close(
                &format!("{what} gated"),
                &h.get(yo, rows),
                &want,
                2e-5,
                1e-5,
            );
        }
    }
}
