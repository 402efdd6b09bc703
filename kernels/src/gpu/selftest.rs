//! Start-up self-test: a few kernels on fixed inputs against the CPU kernels. A GPU (driver)
//! that computes wrong numbers is refused before it serves a session; the caller falls back to
//! the CPU and logs the returned reason.

use super::ops::{self, AttnShape, ScanViews};
use super::{GpuContext, GpuError, GpuMatrix, Pipelines, Recorder, Step, View};
use crate::GgmlType;
use crate::cpu::{attn, matvec, norm, ssm};
use crate::quant::quantize;

/// Fixed pseudo-random values in [-1, 1).
fn values(seed: u32, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect()
}

fn check(what: &str, got: &[f32], want: &[f32]) -> Result<(), GpuError> {
    let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if (g - w).abs() > 1e-3 * scale || !g.is_finite() {
            return Err(GpuError::SelfTest(format!("{what}[{i}]: GPU {g}, CPU {w}")));
        }
    }
    Ok(())
}

/// Runs Q8_0 matvec, RMSNorm, a Mamba-2 scan step and attention over 3 slots; compares with
/// the CPU within 1e-3 of the output scale.
pub fn self_test(ctx: &GpuContext) -> Result<(), GpuError> {
    let (rows, cols) = (48, 128);
    let wbytes = quantize(GgmlType::Q8_0, &values(1, rows * cols)).expect("q8_0");
    let wv = matvec::WeightView::new(GgmlType::Q8_0, &wbytes, rows, cols).expect("view");
    let w = GpuMatrix::upload(ctx, "self-test", &[wv])?;
    let x = values(2, cols);
    let nw = values(3, cols);
    let dims = ssm::Mamba2Dims {
        nh: 2,
        p: 8,
        n: 16,
        g: 1,
    };
    let (sx, sb, sc) = (values(4, 16), values(5, 16), values(6, 16));
    let (dt, a, d) = ([0.1f32, 0.3], [-1.0f32, -2.0], [0.5f32, 1.0]);
    let s0 = values(7, 2 * 8 * 16);
    let attn_s = AttnShape {
        heads: 2,
        kv_heads: 1,
        head_dim: 8,
        scale: 0.35,
        sinks: 1,
        window: 4,
        kv_f16: false,
    };
    let (q, k) = (values(8, 16), values(9, 8));

    let mut arena = vec![0.0f32; 1024];
    arena[..cols].copy_from_slice(&x);
    arena[256..272].copy_from_slice(&sx);
    arena[272..274].copy_from_slice(&dt);
    arena[280..296].copy_from_slice(&sb);
    arena[296..312].copy_from_slice(&sc);
    arena[400..416].copy_from_slice(&q);
    arena[416..424].copy_from_slice(&k);
    let buf = ctx.storage_buffer("self-test arena", 4096);
    ctx.write_f32(&buf, 0, &arena);
    let step_buf = ctx.step_buffer();
    let vec_buf = |data: &[f32]| {
        let b = ctx.storage_buffer("self-test", 4 * data.len() as u64);
        ctx.write_f32(&b, 0, data);
        super::Bind {
            size: 4 * data.len() as u64,
            ..super::Bind::whole(&b)
        }
    };
    let (nwb, sb0, ab, db) = (vec_buf(&nw), vec_buf(&s0), vec_buf(&a), vec_buf(&d));
    let ring = vec_buf(&vec![0.0; attn_s.ring_words()]);
    let scratch = vec_buf(&vec![0.0; attn_s.scratch_floats()]);
    let mut pipes = Pipelines::default();
    let mut r = Recorder::new(ctx, &mut pipes, &step_buf, &buf, 1);
    ops::matvec(&mut r, &w, View::one(0, cols), View::one(128, rows), false)?;
    ops::rms_norm(
        &mut r,
        View::one(0, cols),
        View::one(512, cols),
        Some(&nwb),
        1e-5,
    )?;
    let v = ScanViews {
        x: View::one(256, 16),
        dt: View::one(272, 2),
        b: View::one(280, 16),
        c: View::one(296, 16),
        y: View::one(320, 16),
    };
    ops::ssm_scan2(&mut r, v, &sb0, &ab, &db, 2, 1)?;
    let kv = View::one(416, 8);
    ops::attend(
        &mut r,
        attn_s,
        View::one(400, 16),
        kv,
        kv,
        View::one(448, 16),
        &ring,
        &scratch,
    )?;
    let list = r.finish()?;
    // Three steps: attention then spans three ring slots.
    for pos in 0..3 {
        ctx.run(
            &step_buf,
            &Step {
                n: 1,
                pos0: pos,
                ..Step::default()
            },
            &[&list],
        );
    }
    let out = ctx.read_f32(&buf, 0, 1024)?;

    let mut want = vec![0.0; rows];
    matvec::matvec(&wv, &x, &mut want);
    check("matvec q8_0", &out[128..128 + rows], &want)?;
    let mut want = vec![0.0; cols];
    norm::rms_norm(&x, &nw, 1e-5, &mut want);
    check("rms_norm", &out[512..512 + cols], &want)?;
    let mut state = s0.clone();
    let mut y = vec![0.0; 16];
    for _ in 0..3 {
        ssm::ssm_step_mamba2(&mut state, &sx, &dt, &a, &sb, &sc, &d, dims, &mut y);
    }
    check("mamba2 scan", &out[320..336], &y)?;
    let keys: Vec<f32> = (0..3).flat_map(|_| k.iter().copied()).collect();
    let mut want = vec![0.0; 16];
    attn::attend(&q, &keys, &keys, 3, 2, 1, 8, 0.35, &mut [0.0; 3], &mut want);
    check("attention", &out[448..464], &want)
}
