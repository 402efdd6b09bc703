//! Device memory bandwidth, measured in the caller's process: the ceiling that GPU decode
//! speed is compared with (`weft bench --backend gpu`). Creates its own buffers, so it belongs
//! to measurement code, never to a session's step.

use std::time::Instant;

use super::{GpuContext, GpuError, Pipelines, Recorder, Step, View, ops};

/// Best GB/s (bytes read + written, as PyTorch reports a device copy) of a
/// `copy_buffer_to_buffer` and of the `copy` compute kernel over large buffers.
#[derive(Clone, Copy, Debug)]
pub struct CopyBandwidth {
    /// The copy engine (`copy_buffer_to_buffer`).
    pub dma_gbs: f64,
    /// A compute shader streaming floats: what a kernel can reach.
    pub shader_gbs: f64,
}

impl CopyBandwidth {
    /// The better of the two: the reference for the kernels' bandwidth.
    pub fn best(&self) -> f64 {
        self.dma_gbs.max(self.shader_gbs)
    }
}

/// Measures both copies (≈ 21 passes over up to 2 GiB in all; a fraction of a second on a
/// discrete GPU).
pub fn copy_bandwidth(ctx: &GpuContext) -> Result<CopyBandwidth, GpuError> {
    Ok(CopyBandwidth {
        dma_gbs: dma_copy(ctx)?,
        shader_gbs: shader_copy(ctx)?,
    })
}

/// Best time per repetition over batches of 1, 10 and 10 repetitions (the first pays warm-up).
fn best_seconds(ctx: &GpuContext, mut submit: impl FnMut(usize)) -> Result<f64, GpuError> {
    let mut best = f64::MAX;
    for reps in [1, 10, 10] {
        let t = Instant::now();
        submit(reps);
        ctx.wait()?;
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    Ok(best)
}

fn dma_copy(ctx: &GpuContext) -> Result<f64, GpuError> {
    let bytes = (1u64 << 30).min(ctx.limits.max_buffer_size / 2) & !255;
    let buffer = |usage| {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("weft bandwidth probe"),
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let src = buffer(wgpu::BufferUsages::COPY_SRC);
    let dst = buffer(wgpu::BufferUsages::COPY_DST);
    let secs = best_seconds(ctx, |reps| {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        for _ in 0..reps {
            enc.copy_buffer_to_buffer(&src, 0, &dst, 0, bytes);
        }
        ctx.queue.submit([enc.finish()]);
    })?;
    Ok(2.0 * bytes as f64 / secs / 1e9)
}

fn shader_copy(ctx: &GpuContext) -> Result<f64, GpuError> {
    let floats = ((ctx.max_binding() / 8).min(1 << 28) as usize) & !255;
    let arena = ctx.storage_buffer("weft bandwidth probe", 8 * floats as u64);
    let step = ctx.step_buffer();
    let mut pipes = Pipelines::default();
    let mut r = Recorder::new(ctx, &mut pipes, &step, &arena, 1);
    ops::copy(&mut r, View::one(0, floats), View::one(floats, floats))?;
    let list = r.finish()?;
    let st = Step {
        n: 1,
        ..Step::default()
    };
    let secs = best_seconds(ctx, |reps| {
        let lists: Vec<_> = (0..reps).map(|_| &list).collect();
        ctx.run(&step, &st, &lists);
    })?;
    Ok(8.0 * floats as f64 / secs / 1e9)
}
