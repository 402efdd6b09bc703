//! [`GpuBackend`]: every buffer, bind group and pipeline is created in [`GpuBackend::new`];
//! a run writes the 48-byte step uniform (and the token ids or a frame), records compute passes
//! from precomputed dispatch lists (one; a decode step that draws its id on the GPU submits its
//! first eighth early, so the GPU starts while the rest is recorded) and reads back only what
//! was asked: the logits rows, or one sampled token id.

use std::collections::HashMap;

use weft_kernels::cpu::rope::rope_inv_freq;
use weft_kernels::gpu::{
    Bind, DispatchList, GpuContext, GpuError, GpuMatrix, GpuOptions, Pipelines, Recorder, Step,
    VectorPool, ops, self_test,
};

use super::lower::{Resources, view};
use crate::backend::Backend;
use crate::error::SessionError;
use crate::model::Model;
use crate::program::{Buf, Op, Program, StateRange, WeightId};
use crate::session::SessionConfig;
use crate::state::KvType;

/// Picks the backend for a session: `Cpu` → none; `Gpu` → the GPU or an error; `Auto` → the
/// GPU if one is found and passes the self-test, else the CPU with the reason logged.
pub fn select(
    model: &Model,
    config: &SessionConfig,
    decode: &Program,
    prefill: &Program,
) -> Result<Option<Box<GpuBackend>>, SessionError> {
    if config.backend == Backend::Cpu {
        return Ok(None);
    }
    match GpuBackend::new(model, config, decode, prefill) {
        Ok(g) => {
            log::info!("GPU backend: {}", g.ctx.describe());
            Ok(Some(Box::new(g)))
        }
        Err(e) if config.backend == Backend::Auto => {
            log::warn!("GPU backend unavailable, running on the CPU: {e}");
            Ok(None)
        }
        Err(e) => Err(SessionError::InvalidConfig(format!("GPU backend: {e}"))),
    }
}

/// The dispatch lists of one Program.
struct Compiled {
    embed: DispatchList,
    ops: DispatchList,
    output: Buf,
}

/// A session's GPU resources and precomputed work.
pub struct GpuBackend {
    pub ctx: GpuContext,
    res: Resources,
    arena: wgpu::Buffer,
    step_buf: wgpu::Buffer,
    ids: wgpu::Buffer,
    /// Index in `ids` of the recent ids the repetition penalty reads, and their room (the
    /// session's history; the penalty kernel's cap).
    recent_at: usize,
    recent_cap: usize,
    stage_ids: wgpu::Buffer,
    stage_logits: wgpu::Buffer,
    decode: Compiled,
    prefill: Compiled,
    greedy: DispatchList,
    /// Top-k → temperature → min-p → top-p → draw over the decode logits (`sample_topk`).
    sampler: DispatchList,
    /// Whether the next run embeds token ids (else a frame was written to the input).
    tokens_in: bool,
    /// Readback of the recurrent state and the KV rings (state snapshots).
    stage_state: wgpu::Buffer,
    /// (float offset in the CPU layout, floats, byte offset on the GPU) of each state range.
    state_ranges: Vec<(usize, usize, u64)>,
    /// Pipelines built at init (one per kernel variant used).
    pub pipelines: usize,
    last_encode: std::time::Duration,
}

impl std::fmt::Debug for GpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuBackend({})", self.ctx.describe())
    }
}

fn weights_of(op: &Op<Buf>, mut f: impl FnMut(WeightId, bool)) {
    match op {
        Op::MatMul { w, .. } | Op::ExpertMatMul { w, .. } => f(*w, true),
        Op::AddBias { b, .. } => f(*b, false),
        Op::RmsNorm { w, .. } => w.iter().for_each(|w| f(*w, false)),
        Op::GatedRmsNorm { w, .. } => f(*w, false),
        Op::Conv1dSilu { w, b, .. } => {
            f(*w, false);
            b.iter().for_each(|b| f(*b, false));
        }
        Op::Softplus { bias, .. } => bias.iter().for_each(|b| f(*b, false)),
        Op::SsmScan1 { a, d, .. } | Op::SsmScan2 { a, d, .. } => {
            f(*a, false);
            f(*d, false);
        }
        _ => {}
    }
}

fn state_of(op: &Op<Buf>) -> Option<StateRange> {
    match op {
        Op::Conv1dSilu { state, .. } | Op::SsmScan1 { state, .. } | Op::SsmScan2 { state, .. } => {
            Some(*state)
        }
        _ => None,
    }
}

impl GpuBackend {
    /// Finds an adapter, self-tests it, uploads the weights (streaming, one matrix shard at a
    /// time) and builds every buffer, pipeline, bind group and dispatch list.
    pub fn new(
        model: &Model,
        config: &SessionConfig,
        decode: &Program,
        prefill: &Program,
    ) -> Result<Self, GpuError> {
        let ctx = GpuContext::new(&GpuOptions::from_env())?;
        self_test(&ctx)?;
        let programs = [decode, prefill];
        let all_ops = || programs.iter().flat_map(|p| p.ops.iter());

        // Recurrent state: every range at a 256-byte offset so that it can be bound alone.
        let mut state_at = HashMap::new();
        let mut state_ranges = Vec::new();
        let mut state_bytes = 0u64;
        for s in all_ops().filter_map(state_of) {
            state_at.entry(s.off).or_insert_with(|| {
                let at = state_bytes;
                state_bytes = (at + 4 * s.len as u64).next_multiple_of(ctx.align());
                state_ranges.push((s.off, s.len, at));
                at
            });
        }
        let state = ctx.storage_buffer("weft state", state_bytes);
        let (sinks, window) = (config.kv_sinks, config.kv_window);
        let kv_f16 = config.kv_type == KvType::F16;
        let rings = decode
            .state
            .kv
            .iter()
            .map(|kv| {
                let bytes = 2 * config.kv_type.bytes() * (sinks + window) * kv.width;
                ctx.storage_buffer("weft kv ring", bytes as u64)
            })
            .collect();
        let scratch_floats = all_ops()
            .filter_map(|op| match op {
                Op::Attend {
                    heads,
                    kv_heads,
                    head_dim,
                    ..
                } => Some(
                    weft_kernels::gpu::ops::AttnShape {
                        heads: *heads,
                        kv_heads: *kv_heads,
                        head_dim: *head_dim,
                        scale: 1.0,
                        sinks,
                        window,
                        kv_f16,
                    }
                    .scratch_floats(),
                ),
                _ => None,
            })
            .max()
            .unwrap_or(1);
        let scratch = ctx.storage_buffer("weft attention scratch", 4 * scratch_floats as u64);

        // Weights, streamed in Program order.
        let mut res = Resources {
            matrices: HashMap::new(),
            vectors: HashMap::new(),
            inv_freq: HashMap::new(),
            pool: VectorPool::new(&ctx),
            state,
            state_at,
            rings,
            scratch,
            sinks,
            window,
            kv_f16,
        };
        let embd = model.plan().token_embd.map(|m| m.id);
        if let Some(e) = embd {
            upload_matrix(&ctx, model, &mut res, e)?;
        }
        for op in all_ops() {
            let mut err = Ok(());
            weights_of(op, |w, is_matrix| {
                if err.is_ok() {
                    err = if is_matrix {
                        upload_matrix(&ctx, model, &mut res, w)
                    } else if let std::collections::hash_map::Entry::Vacant(e) =
                        res.vectors.entry(w)
                    {
                        res.pool.add(&ctx, model.vector(w)).map(|r| {
                            e.insert(r);
                        })
                    } else {
                        Ok(())
                    };
                }
            });
            err?;
            if let Op::Rope {
                head_dim, theta, ..
            } = op
            {
                let key = (*head_dim, theta.to_bits());
                if !res.inv_freq.contains_key(&key) {
                    let f: Vec<f32> = (0..head_dim / 2)
                        .map(|i| rope_inv_freq(i, *head_dim, *theta))
                        .collect();
                    res.inv_freq.insert(key, res.pool.add(&ctx, &f)?);
                }
            }
        }
        res.pool.flush(&ctx);

        let arena_len = decode.arena_len.max(prefill.arena_len).max(4);
        let arena = ctx.storage_buffer("weft arena", 4 * arena_len as u64);
        let step_buf = ctx.step_buffer();
        // Token ids: the run's inputs from 0, the drawn id at 0, the recent ids for the
        // repetition penalty from `recent_at` (room for the session's history).
        let recent_at = prefill.rows.max(1) + 4;
        let ids = ctx.storage_buffer(
            "weft token ids",
            4 * (recent_at + config.history.max(1)) as u64,
        );
        let out_bytes = programs
            .iter()
            .map(|p| 4 * p.output.span(p.rows).len() as u64)
            .max()
            .unwrap_or(4);
        let staging = |label, bytes: u64| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.next_multiple_of(16),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let stage_logits = staging("weft logits readback", out_bytes);
        let stage_ids = staging("weft id readback", 16);
        let ring_bytes: u64 = res.rings.iter().map(wgpu::Buffer::size).sum();
        let stage_state = staging(
            "weft state readback",
            (res.state.size() + ring_bytes).max(16),
        );

        let mut pipes = Pipelines::default();
        let ids_bind = Bind::whole(&ids);
        let table = embd.map(|e| &res.matrices[&e]);
        let mut compile = |p: &Program| -> Result<Compiled, GpuError> {
            let mut r = Recorder::new(&ctx, &mut pipes, &step_buf, &arena, p.rows);
            if let Some(table) = table {
                ops::embed(&mut r, table, &ids_bind, 0, view(&p.input))?;
            }
            let embed = r.finish()?;
            let mut r = Recorder::new(&ctx, &mut pipes, &step_buf, &arena, p.rows);
            res.lower_all(&mut r, &p.ops, p.rows)?;
            Ok(Compiled {
                embed,
                ops: r.finish()?,
                output: p.output,
            })
        };
        let decode_c = compile(decode)?;
        let prefill_c = compile(prefill)?;
        let logits = view(&decode.output);
        let history = config.history;
        let mut r = Recorder::new(&ctx, &mut pipes, &step_buf, &arena, 1);
        ops::repetition_penalty(&mut r, logits, &ids_bind, recent_at, history)?;
        ops::argmax(&mut r, logits, &ids_bind, 0)?;
        let greedy = r.finish()?;
        let mut r = Recorder::new(&ctx, &mut pipes, &step_buf, &arena, 1);
        ops::repetition_penalty(&mut r, logits, &ids_bind, recent_at, history)?;
        ops::sample_top_k(&mut r, logits, &ids_bind, 0)?;
        let sampler = r.finish()?;
        let pipelines = pipes.len();
        ctx.wait()?;
        Ok(GpuBackend {
            ctx,
            res,
            arena,
            step_buf,
            ids,
            recent_at,
            recent_cap: history,
            stage_ids,
            stage_logits,
            decode: decode_c,
            prefill: prefill_c,
            greedy,
            sampler,
            stage_state,
            state_ranges,
            tokens_in: true,
            pipelines,
            last_encode: std::time::Duration::ZERO,
        })
    }

    /// Token ids of the next run (its embedding is looked up on the GPU).
    pub fn set_tokens(&mut self, tokens: &[u32]) {
        self.ctx
            .queue
            .write_buffer(&self.ids, 0, bytemuck_u32(tokens));
        self.tokens_in = true;
    }

    /// A frame written straight into the Program's input row.
    pub fn set_frame(&mut self, input: Buf, frame: &[f32]) {
        self.ctx
            .queue
            .write_buffer(&self.arena, 4 * input.off as u64, bytemuck_f32(frame));
        self.tokens_in = false;
    }

    fn encode(&self, c: &Compiled, extra: Option<&DispatchList>) -> wgpu::CommandEncoder {
        self.encode_part(c, 0..c.ops.len(), true, extra)
    }

    /// One pass with the Program's dispatches `ops` (after the embedding when `first` and a
    /// token is the input) and then `extra`.
    fn encode_part(
        &self,
        c: &Compiled,
        ops: std::ops::Range<usize>,
        first: bool,
        extra: Option<&DispatchList>,
    ) -> wgpu::CommandEncoder {
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            if first && self.tokens_in {
                c.embed.encode(&mut pass);
            }
            c.ops.encode_range(&mut pass, ops);
            if let Some(x) = extra {
                x.encode(&mut pass);
            }
        }
        enc
    }

    fn write_step(&self, pos0: usize, n: usize) {
        let step = Step {
            n: n as u32,
            pos0: pos0 as u32,
            ..Step::default()
        };
        self.ctx
            .queue
            .write_buffer(&self.step_buf, 0, &step.bytes());
    }

    /// Runs the decode (`prefill = false`, n = 1) or prefill Program over `n` tokens at `pos0`;
    /// copies the last row's logits into `last` and, if given, every row's into `all`.
    pub fn run(
        &mut self,
        prefill: bool,
        pos0: usize,
        n: usize,
        last: &mut [f32],
        all: Option<&mut [f32]>,
    ) {
        self.write_step(pos0, n);
        let c = if prefill { &self.prefill } else { &self.decode };
        let mut enc = self.encode(c, None);
        let span = c.output.span(n);
        let bytes = 4 * span.len() as u64;
        enc.copy_buffer_to_buffer(
            &self.arena,
            4 * span.start as u64,
            &self.stage_logits,
            0,
            bytes,
        );
        self.ctx.queue.submit([enc.finish()]);
        let out = c.output;
        map_read(&self.ctx, &self.stage_logits, bytes, |data| {
            let rows = out.row_count(n);
            let row = |r: usize| {
                let at = 4 * (r * out.stride);
                &data[at..at + 4 * out.width]
            };
            copy_f32(row(rows - 1), last);
            if let Some(all) = all {
                for r in 0..rows {
                    copy_f32(row(r), &mut all[r * out.width..(r + 1) * out.width]);
                }
            }
        });
    }

    /// One decode step with greedy sampling on the GPU: reads back only the token id, which
    /// also stays in the id buffer as the next step's input.
    pub fn decode_greedy(&mut self, pos: usize) -> u32 {
        let step = Step {
            n: 1,
            pos0: pos as u32,
            ..Step::default()
        };
        self.decode_to_id(&step, false)
    }

    /// One decode step with a top-k draw on the GPU (`draw`: k ≤ 64, temperature, min-p, top-p
    /// and the uniform number); reads back only the token id, `None` if no logit was finite.
    pub fn decode_sample(&mut self, pos: usize, draw: &GpuDraw) -> Option<u32> {
        let mut step = Step {
            n: 1,
            pos0: pos as u32,
            top_k: draw.top_k,
            rand: draw.uniform,
            temp: draw.temperature,
            top_p: draw.top_p,
            min_p: draw.min_p,
            ..Step::default()
        };
        if draw.penalty != 1.0 && !draw.recent.is_empty() {
            // The window goes up beside the token ids: its newest ids, at most the room there.
            let recent = &draw.recent[draw.recent.len().saturating_sub(self.recent_cap)..];
            self.ctx
                .queue
                .write_buffer(&self.ids, 4 * self.recent_at as u64, bytemuck_u32(recent));
            step.rep_n = recent.len() as u32;
            step.rep_penalty = draw.penalty;
        }
        // Greedy (temperature 0) takes the argmax list: the penalty runs there as well.
        let id = self.decode_to_id(&step, draw.temperature != 0.0);
        (id != u32::MAX).then_some(id)
    }

    /// The decode pass followed by the argmax (or, with `sample`, the top-k draw) into the id
    /// buffer; reads back that one id.
    fn decode_to_id(&mut self, step: &Step, sample: bool) -> u32 {
        let t = std::time::Instant::now();
        self.ctx
            .queue
            .write_buffer(&self.step_buf, 0, &step.bytes());
        let pick = if sample { &self.sampler } else { &self.greedy };
        // Two submits: the GPU starts on the first eighth of the dispatches while the host
        // records the rest (recording all of them first left the GPU idle for ~0.3 ms per
        // token on zamba2-2.7b's 281 dispatches).
        let n = self.decode.ops.len();
        let split = (n / 8).max(1).min(n);
        let head = self.encode_part(&self.decode, 0..split, true, None);
        self.ctx.queue.submit([head.finish()]);
        let mut enc = self.encode_part(&self.decode, split..n, false, Some(pick));
        enc.copy_buffer_to_buffer(&self.ids, 0, &self.stage_ids, 0, 4);
        self.ctx.queue.submit([enc.finish()]);
        self.last_encode = t.elapsed();
        let mut id = 0;
        map_read(&self.ctx, &self.stage_ids, 4, |d| {
            id = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        });
        self.tokens_in = true;
        id
    }

    /// Host time to record and submit the last `decode_greedy` / `decode_sample` step.
    pub fn last_encode(&self) -> std::time::Duration {
        self.last_encode
    }

    /// GPU time of the decode dispatches alone: `reps` decode steps recorded into one pass
    /// and one submit (barriers included, submit and readback amortised).
    pub fn time_decode_pass(&mut self, pos: usize, reps: usize) -> std::time::Duration {
        self.write_step(pos, 1);
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            for _ in 0..reps {
                self.decode.ops.encode(&mut pass);
            }
        }
        let t = std::time::Instant::now();
        self.ctx.queue.submit([enc.finish()]);
        self.ctx.wait().expect("GPU device lost");
        t.elapsed() / reps.max(1) as u32
    }

    /// GPU time per decode step of each kernel variant alone (file and defines, dispatches per
    /// step, time): `reps` steps' dispatches of that variant in one pass and one submit. The
    /// arena holds garbage meanwhile (timing only; call [`GpuBackend::clear_state`] after).
    pub fn time_decode_kernels(
        &mut self,
        pos: usize,
        reps: usize,
    ) -> Vec<(String, usize, std::time::Duration)> {
        self.write_step(pos, 1);
        let label =
            |d: &weft_kernels::gpu::Dispatch| format!("{} {:?}", d.kernel.file(), d.defines);
        let mut labels: Vec<String> = self.decode.ops.dispatches.iter().map(label).collect();
        labels.sort();
        labels.dedup();
        let mut out = Vec::new();
        for l in labels {
            let count = (self.decode.ops.dispatches.iter())
                .filter(|d| label(d) == l)
                .count();
            let mut best = std::time::Duration::MAX;
            for _ in 0..2 {
                let mut enc = self
                    .ctx
                    .device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
                {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    for _ in 0..reps {
                        self.decode.ops.encode_only(&mut pass, |d| label(d) == l);
                    }
                }
                let t = std::time::Instant::now();
                self.ctx.queue.submit([enc.finish()]);
                self.ctx.wait().expect("GPU device lost");
                best = best.min(t.elapsed() / reps.max(1) as u32);
            }
            out.push((l, count, best));
        }
        out
    }

    /// Dispatches per decode step (embedding + ops), and per prefill run.
    pub fn dispatch_counts(&self) -> (usize, usize) {
        (
            self.decode.embed.len() + self.decode.ops.len(),
            self.prefill.embed.len() + self.prefill.ops.len(),
        )
    }

    /// Bytes of weights on the GPU.
    pub fn weight_bytes(&self) -> u64 {
        self.res
            .matrices
            .values()
            .map(GpuMatrix::bytes)
            .sum::<u64>()
            + self.res.pool.bytes()
    }

    /// Copies the recurrent state and every KV ring back and hands them to `f` (a snapshot;
    /// the readback buffer exists since init).
    pub fn read_state<R>(&self, f: impl FnOnce(&StateBytes) -> R) -> R {
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        let state_len = self.res.state.size();
        enc.copy_buffer_to_buffer(&self.res.state, 0, &self.stage_state, 0, state_len);
        let mut at = state_len;
        for ring in &self.res.rings {
            enc.copy_buffer_to_buffer(ring, 0, &self.stage_state, at, ring.size());
            at += ring.size();
        }
        self.ctx.queue.submit([enc.finish()]);
        let mut out = None;
        map_read(&self.ctx, &self.stage_state, at, |data| {
            out = Some(f(&StateBytes {
                data,
                ranges: &self.state_ranges,
                rings: &self.res.rings,
                state_len,
            }));
        });
        out.expect("map_read calls back")
    }

    /// Uploads a recurrent state (CPU layout) and every KV ring (the little-endian bytes of
    /// its keys and of its values, in the ring's element type).
    pub fn write_state<'a>(
        &mut self,
        recurrent: &[f32],
        rings: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        for &(off, len, at) in &self.state_ranges {
            let bytes = bytemuck_f32(&recurrent[off..off + len]);
            self.ctx.queue.write_buffer(&self.res.state, at, bytes);
        }
        for (buf, (keys, values)) in self.res.rings.iter().zip(rings) {
            self.ctx.queue.write_buffer(buf, 0, keys);
            self.ctx.queue.write_buffer(buf, keys.len() as u64, values);
        }
    }

    /// Zeroes the recurrent state and the KV rings (a fresh stream).
    pub fn clear_state(&mut self) {
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        enc.clear_buffer(&self.res.state, 0, None);
        self.res
            .rings
            .iter()
            .for_each(|r| enc.clear_buffer(r, 0, None));
        self.ctx.queue.submit([enc.finish()]);
    }
}

/// The sampling values of one GPU draw (see [`GpuBackend::decode_sample`]).
#[derive(Clone, Copy, Debug)]
pub struct GpuDraw<'a> {
    pub top_k: u32,
    /// 0: greedy (the argmax, after the penalty).
    pub temperature: f32,
    pub top_p: f32,
    pub min_p: f32,
    pub uniform: f32,
    /// Repetition penalty (1: off) over `recent` (oldest first, at most the session's history).
    pub penalty: f32,
    pub recent: &'a [u32],
}

/// A snapshot of a GPU session's state, as read back by [`GpuBackend::read_state`].
pub struct StateBytes<'a> {
    data: &'a [u8],
    ranges: &'a [(usize, usize, u64)],
    rings: &'a [wgpu::Buffer],
    state_len: u64,
}

impl StateBytes<'_> {
    /// Each state range: (float offset in the CPU layout, its little-endian f32 bytes).
    pub fn ranges(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.ranges.iter().map(|&(off, len, at)| {
            let at = at as usize;
            (off, &self.data[at..at + 4 * len])
        })
    }

    /// Ring `i`: keys then values, little-endian, in the ring's element type.
    pub fn ring(&self, i: usize) -> &[u8] {
        let at = self.state_len + self.rings[..i].iter().map(wgpu::Buffer::size).sum::<u64>();
        &self.data[at as usize..(at + self.rings[i].size()) as usize]
    }
}

fn upload_matrix(
    ctx: &GpuContext,
    model: &Model,
    res: &mut Resources,
    w: WeightId,
) -> Result<(), GpuError> {
    if res.matrices.contains_key(&w) {
        return Ok(());
    }
    let views: Vec<_> = (0..model.experts(w)).map(|e| model.matrix(w, e)).collect();
    let m = GpuMatrix::upload(ctx, "weft weight", &views)?;
    res.matrices.insert(w, m);
    Ok(())
}

/// Maps `bytes` of a staging buffer, hands them to `f`, unmaps.
fn map_read(ctx: &GpuContext, buf: &wgpu::Buffer, bytes: u64, f: impl FnOnce(&[u8])) {
    let slice = buf.slice(..bytes.next_multiple_of(4));
    slice.map_async(wgpu::MapMode::Read, |r| r.expect("map staging buffer"));
    ctx.wait().expect("GPU device lost");
    f(&slice.get_mapped_range().expect("mapped"));
    buf.unmap();
}

fn copy_f32(src: &[u8], dst: &mut [f32]) {
    for (d, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
}

fn bytemuck_u32(v: &[u32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

fn bytemuck_f32(v: &[f32]) -> &[u8] {
    bytemuck::cast_slice(v)
}
