//! Shared harness of the GPU op tests: one context per tier (tier 1 only when the adapter has
//! subgroups), an arena, a step buffer, and CPU-vs-GPU comparison helpers.
//!
//! No adapter → the tests print a loud SKIPPED line and pass, unless `WEFT_REQUIRE_GPU=1`
//! (set by scripts/test-gpu.sh in CI), which turns it into a failure.

#![allow(dead_code)]

use std::sync::OnceLock;

use weft_kernels::gpu::shader::Tier;
use weft_kernels::gpu::{
    Bind, DispatchList, GpuContext, GpuError, GpuOptions, Pipelines, Recorder, Step, View,
};

static CTXS: OnceLock<Vec<GpuContext>> = OnceLock::new();

/// Contexts to test: the adapter's best tier, then tier 0 if that was higher.
pub fn contexts() -> &'static [GpuContext] {
    CTXS.get_or_init(|| {
        let opts = GpuOptions::from_env();
        match GpuContext::new(&opts) {
            Ok(best) => {
                eprintln!("GPU tests on {}", best.describe());
                let mut v = vec![];
                if best.tier != Tier::Base {
                    let base = GpuContext::new(&GpuOptions {
                        force_base_tier: true,
                        ..opts
                    })
                    .expect("second device on the same adapter");
                    v.push(base);
                }
                v.insert(0, best);
                v
            }
            Err(e) => {
                if std::env::var("WEFT_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                    panic!("WEFT_REQUIRE_GPU=1 but no GPU adapter: {e}");
                }
                eprintln!("\n*** SKIPPED: no GPU adapter ({e}); GPU op tests did not run ***\n");
                vec![]
            }
        }
    })
}

/// An arena of `floats` floats, a step buffer and pipelines on one context.
pub struct Harness<'a> {
    pub ctx: &'a GpuContext,
    pub pipes: Pipelines,
    pub arena: wgpu::Buffer,
    pub step: wgpu::Buffer,
    pub max_rows: usize,
}

impl<'a> Harness<'a> {
    pub fn new(ctx: &'a GpuContext, floats: usize, max_rows: usize) -> Self {
        Harness {
            ctx,
            pipes: Pipelines::default(),
            arena: ctx.storage_buffer("test arena", 4 * floats as u64),
            step: ctx.step_buffer(),
            max_rows,
        }
    }

    pub fn put(&self, off: usize, data: &[f32]) {
        self.ctx.write_f32(&self.arena, off, data);
    }

    pub fn get(&self, off: usize, len: usize) -> Vec<f32> {
        self.ctx.read_f32(&self.arena, off, len).unwrap()
    }

    /// Records with `f`, then runs the list once with `step`.
    pub fn run(
        &mut self,
        step: Step,
        f: impl FnOnce(&mut Recorder) -> Result<(), GpuError>,
    ) -> DispatchList {
        let list = self.record(f);
        self.ctx.run(&self.step, &step, &[&list]);
        list
    }

    pub fn record(
        &mut self,
        f: impl FnOnce(&mut Recorder) -> Result<(), GpuError>,
    ) -> DispatchList {
        let mut r = Recorder::new(
            self.ctx,
            &mut self.pipes,
            &self.step,
            &self.arena,
            self.max_rows,
        );
        f(&mut r).expect("record");
        r.finish().expect("finish")
    }

    /// A storage buffer holding `data`.
    pub fn buffer(&self, data: &[f32]) -> Bind {
        let b = self.ctx.storage_buffer("test data", 4 * data.len() as u64);
        self.ctx.write_f32(&b, 0, data);
        Bind {
            size: 4 * data.len().max(1) as u64,
            ..Bind::whole(&b)
        }
    }

    pub fn read(&self, b: &Bind) -> Vec<f32> {
        self.ctx
            .read_f32(&b.buffer, (b.offset / 4) as usize, b.floats())
            .unwrap()
    }
}

pub fn step(n: usize, pos0: usize) -> Step {
    Step {
        n: n as u32,
        pos0: pos0 as u32,
        ..Step::default()
    }
}

pub fn dense(off: usize, width: usize) -> View {
    View::all(off, width)
}

/// |got − want| ≤ rel · scale + abs for every element (scale = max |want|, at least 1e-3).
#[track_caller]
pub fn close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * scale + abs,
            "{what}[{i}]: gpu {g} vs cpu {w} (scale {scale})"
        );
    }
}

/// Deterministic normal-ish numbers (xorshift + Box-Muller).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn u01(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    pub fn normal(&mut self) -> f32 {
        let (a, b) = (self.u01(), self.u01());
        (-2.0 * a.ln()).sqrt() * (std::f32::consts::TAU * b).cos()
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal()).collect()
    }

    pub fn uniform(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| lo + (hi - lo) * self.u01()).collect()
    }
}
