//! Pipelines, bindings and precomputed dispatch lists.
//!
//! A [`Recorder`] collects dispatches (kernel, static parameters, storage bindings, grid); its
//! `finish` creates the one uniform buffer that holds every dispatch's parameters and one bind
//! group per dispatch. Running a [`DispatchList`] then only sets pipelines and bind groups in one
//! compute pass: nothing is created per step. Per-step values live in the [`Step`] uniform.

use std::collections::HashMap;
use std::num::NonZeroU64;

use wgpu::{BufferUsages, ShaderStages};

use super::shader::{Access, Kernel, build};
use super::{GpuContext, GpuError, ensure};

/// Which rows of an arena view a run touches (the engine's `Rows`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// One row per token.
    All,
    /// The last token's row of a per-token buffer.
    Last,
    /// A single-row buffer.
    One,
}

/// A view into the arena, in f32 elements: `width` floats per row, rows `stride` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub off: usize,
    pub stride: usize,
    pub width: usize,
    pub rows: Rows,
}

impl View {
    /// A dense single-row view.
    pub fn one(off: usize, width: usize) -> Self {
        View {
            off,
            stride: width,
            width,
            rows: Rows::One,
        }
    }

    /// A dense per-token view.
    pub fn all(off: usize, width: usize) -> Self {
        View {
            off,
            stride: width,
            width,
            rows: Rows::All,
        }
    }

    pub(crate) fn mode(&self) -> u32 {
        match self.rows {
            Rows::All => 0,
            Rows::Last => 1,
            Rows::One => 2,
        }
    }

    /// [off, stride, mode] as the kernels' parameters spell a view.
    pub(crate) fn words(&self) -> [u32; 3] {
        [self.off as u32, self.stride as u32, self.mode()]
    }

    /// One past the last float the view may touch in a run of up to `max_rows` tokens.
    fn end(&self, max_rows: usize) -> usize {
        match self.rows {
            Rows::One => self.off + self.width,
            Rows::All | Rows::Last => self.off + (max_rows.max(1) - 1) * self.stride + self.width,
        }
    }
}

/// A storage binding: a byte range of a buffer.
#[derive(Clone, Debug)]
pub struct Bind {
    pub buffer: wgpu::Buffer,
    pub offset: u64,
    pub size: u64,
}

impl Bind {
    pub fn whole(buffer: &wgpu::Buffer) -> Self {
        Bind {
            buffer: buffer.clone(),
            offset: 0,
            size: buffer.size(),
        }
    }

    /// f32 elements in the range.
    pub fn floats(&self) -> usize {
        (self.size / 4) as usize
    }
}

/// Per-step values (the WGSL `Step` uniform).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Step {
    pub n: u32,
    pub pos0: u32,
    pub top_k: u32,
    pub rand: f32,
    pub temp: f32,
    pub top_p: f32,
    pub min_p: f32,
    /// Recent token ids the repetition penalty reads (0: off) and the penalty.
    pub rep_n: u32,
    pub rep_penalty: f32,
}

impl Step {
    pub const BYTES: u64 = 48;

    pub fn bytes(&self) -> [u8; 48] {
        let w = [
            self.n,
            self.pos0,
            self.top_k,
            self.rep_n,
            self.rand.to_bits(),
            self.temp.to_bits(),
            self.top_p.to_bits(),
            self.min_p.to_bits(),
            self.rep_penalty.to_bits(),
            0,
            0,
            0,
        ];
        let mut out = [0u8; 48];
        for (o, v) in out.chunks_exact_mut(4).zip(w) {
            o.copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// Compiled pipelines, one per kernel × variant, built once and shared by dispatch lists.
#[derive(Default)]
pub struct Pipelines {
    map: HashMap<(Kernel, Vec<&'static str>), (wgpu::BindGroupLayout, wgpu::ComputePipeline)>,
}

impl Pipelines {
    /// Number of pipelines built.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn get(
        &mut self,
        ctx: &GpuContext,
        kernel: Kernel,
        defines: &[&'static str],
    ) -> Result<(wgpu::BindGroupLayout, wgpu::ComputePipeline), GpuError> {
        let key = (kernel, defines.to_vec());
        if let Some(p) = self.map.get(&key) {
            return Ok(p.clone());
        }
        let src = build(kernel, defines, ctx.tier)?;
        let dev = &ctx.device;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::Validation);
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(kernel.file()),
            source: wgpu::ShaderSource::Wgsl(src.into()),
        };
        let module = if runtime_checks(kernel, defines) {
            dev.create_shader_module(desc)
        } else {
            // SAFETY: see `runtime_checks`.
            unsafe {
                dev.create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
            }
        };
        let buffer = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let storage = |read_only| wgpu::BufferBindingType::Storage { read_only };
        let mut entries = vec![
            buffer(0, wgpu::BufferBindingType::Uniform),
            buffer(1, wgpu::BufferBindingType::Uniform),
            buffer(2, storage(false)),
        ];
        for (i, a) in kernel.storage_of(defines).iter().enumerate() {
            entries.push(buffer(3 + i as u32, storage(*a == Access::Read)));
        }
        let bgl = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(kernel.file()),
            entries: &entries,
        });
        let layout = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(kernel.file()),
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.file()),
            layout: Some(&layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Wgpu(format!(
                "{} {defines:?}: {e}",
                kernel.file()
            )));
        }
        self.map.insert(key, (bgl.clone(), pipeline.clone()));
        Ok((bgl, pipeline))
    }
}

struct Pending {
    kernel: Kernel,
    defines: Vec<&'static str>,
    params_at: u64,
    params_len: u64,
    binds: Vec<Bind>,
    groups: [u32; 3],
}

/// One recorded dispatch.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pub kernel: Kernel,
    pub defines: Vec<&'static str>,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    pub groups: [u32; 3],
}

/// Records `dispatches` into `pass` in order.
fn record<'a>(pass: &mut wgpu::ComputePass, dispatches: impl IntoIterator<Item = &'a Dispatch>) {
    for d in dispatches {
        pass.set_pipeline(&d.pipeline);
        pass.set_bind_group(0, &d.bind_group, &[]);
        let [x, y, z] = d.groups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// A precomputed list of dispatches and the uniform buffer of their parameters.
#[derive(Debug, Default)]
pub struct DispatchList {
    pub dispatches: Vec<Dispatch>,
    params: Option<wgpu::Buffer>,
}

impl DispatchList {
    pub fn len(&self) -> usize {
        self.dispatches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dispatches.is_empty()
    }

    /// Records every dispatch into `pass`.
    pub fn encode(&self, pass: &mut wgpu::ComputePass) {
        record(pass, &self.dispatches);
    }

    /// Records dispatches `range` into `pass` (a list split over several submits).
    pub fn encode_range(&self, pass: &mut wgpu::ComputePass, range: std::ops::Range<usize>) {
        record(pass, &self.dispatches[range]);
    }

    /// Records the dispatches that `keep` selects (profiling: one kernel variant at a time).
    pub fn encode_only(&self, pass: &mut wgpu::ComputePass, keep: impl Fn(&Dispatch) -> bool) {
        record(pass, self.dispatches.iter().filter(|d| keep(d)));
    }

    /// Bytes of the parameter buffer.
    pub fn params_bytes(&self) -> u64 {
        self.params.as_ref().map_or(0, |b| b.size())
    }
}

/// Collects dispatches over one arena buffer and one step uniform.
pub struct Recorder<'a> {
    pub ctx: &'a GpuContext,
    pipes: &'a mut Pipelines,
    step: wgpu::Buffer,
    arena: wgpu::Buffer,
    /// Floats in the arena.
    pub arena_len: usize,
    /// Most tokens one run processes.
    pub max_rows: usize,
    dummy: wgpu::Buffer,
    params: Vec<u8>,
    pending: Vec<Pending>,
}

impl<'a> Recorder<'a> {
    /// `arena` holds `arena_len` floats; runs process up to `max_rows` tokens.
    pub fn new(
        ctx: &'a GpuContext,
        pipes: &'a mut Pipelines,
        step: &wgpu::Buffer,
        arena: &wgpu::Buffer,
        max_rows: usize,
    ) -> Self {
        let dummy = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("weft dummy"),
            size: 16,
            usage: BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Recorder {
            ctx,
            pipes,
            step: step.clone(),
            arena: arena.clone(),
            arena_len: (arena.size() / 4) as usize,
            max_rows,
            dummy,
            params: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// A placeholder storage binding for an absent optional input.
    pub fn dummy(&self) -> Bind {
        Bind::whole(&self.dummy)
    }

    /// Checks that `v` lies inside the arena for every run, and is `width` wide.
    pub fn check_view(&self, what: &str, v: &View, width: usize) -> Result<(), GpuError> {
        ensure!(
            v.width == width,
            "{what}: width {} where {width} is needed",
            v.width
        );
        ensure!(
            v.rows == Rows::One || v.stride >= v.width,
            "{what}: stride {} < width {}",
            v.stride,
            v.width
        );
        let end = v.end(self.max_rows);
        ensure!(
            end <= self.arena_len && end < u32::MAX as usize,
            "{what}: reaches float {end}, the arena has {}",
            self.arena_len
        );
        Ok(())
    }

    /// Queues one dispatch: `params` (u32 words, the kernel's `Params` struct in order),
    /// `binds` for bindings 3.., `groups` workgroups.
    pub fn push(
        &mut self,
        kernel: Kernel,
        defines: &[&'static str],
        params: &[u32],
        binds: Vec<Bind>,
        groups: [u32; 3],
    ) -> Result<(), GpuError> {
        ensure!(
            binds.len() == kernel.storage_of(defines).len(),
            "{}: {} bindings, {} expected",
            kernel.file(),
            binds.len(),
            kernel.storage_of(defines).len()
        );
        let max = self.ctx.max_binding();
        for b in &binds {
            if b.size > max {
                return Err(GpuError::TooLarge {
                    what: kernel.file().into(),
                    need: b.size,
                    max,
                });
            }
            ensure!(
                b.offset % self.ctx.align() == 0,
                "binding offset {} unaligned",
                b.offset
            );
        }
        let align = u64::from(self.ctx.limits.min_uniform_buffer_offset_alignment.max(16));
        let at = (self.params.len() as u64).next_multiple_of(align);
        self.params.resize(at as usize, 0);
        params
            .iter()
            .for_each(|w| self.params.extend_from_slice(&w.to_le_bytes()));
        let len = (4 * params.len() as u64).next_multiple_of(16);
        self.params.resize((at + len) as usize, 0);
        self.pending.push(Pending {
            kernel,
            defines: defines.to_vec(),
            params_at: at,
            params_len: len,
            binds,
            groups,
        });
        Ok(())
    }

    /// Builds the pipelines (once per variant), the parameter buffer and one bind group per
    /// dispatch.
    pub fn finish(self) -> Result<DispatchList, GpuError> {
        if self.pending.is_empty() {
            return Ok(DispatchList::default());
        }
        let dev = &self.ctx.device;
        let params = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("weft params"),
            size: self.params.len() as u64,
            usage: BufferUsages::UNIFORM | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.ctx.queue.write_buffer(&params, 0, &self.params);
        fn range(buffer: &wgpu::Buffer, offset: u64, size: u64) -> wgpu::BindingResource<'_> {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer,
                offset,
                size: NonZeroU64::new(size),
            })
        }
        let mut dispatches = Vec::with_capacity(self.pending.len());
        for p in &self.pending {
            let (bgl, pipeline) = self.pipes.get(self.ctx, p.kernel, &p.defines)?;
            let mut entries = vec![
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: range(&params, p.params_at, p.params_len),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: range(&self.step, 0, Step::BYTES),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: range(&self.arena, 0, self.arena.size()),
                },
            ];
            for (i, b) in p.binds.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: 3 + i as u32,
                    resource: range(&b.buffer, b.offset, b.size),
                });
            }
            let bind_group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(p.kernel.file()),
                layout: &bgl,
                entries: &entries,
            });
            dispatches.push(Dispatch {
                kernel: p.kernel,
                defines: p.defines.clone(),
                pipeline,
                bind_group,
                groups: p.groups,
            });
        }
        Ok(DispatchList {
            dispatches,
            params: Some(params),
        })
    }
}

/// Workgroup grid for `count` workgroups (split over x and y past 65535) and `z` layers.
pub fn grid(count: usize, z: usize) -> [u32; 3] {
    let count = count.max(1) as u32;
    const MAX: u32 = 65535;
    if count <= MAX {
        [count, 1, z.max(1) as u32]
    } else {
        [MAX, count.div_ceil(MAX), z.max(1) as u32]
    }
}

impl GpuContext {
    /// A storage buffer of `bytes` (rounded up to 16) usable as copy source and destination.
    pub fn storage_buffer(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(16).next_multiple_of(16),
            usage: BufferUsages::STORAGE | BufferUsages::COPY_DST | BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    /// The step uniform buffer.
    pub fn step_buffer(&self) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("weft step"),
            size: Step::BYTES,
            usage: BufferUsages::UNIFORM | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Writes `step`, records `lists` in one pass, submits. Test and self-test helper.
    pub fn run(&self, step_buf: &wgpu::Buffer, step: &Step, lists: &[&DispatchList]) {
        self.queue.write_buffer(step_buf, 0, &step.bytes());
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            for l in lists {
                l.encode(&mut pass);
            }
        }
        self.queue.submit([enc.finish()]);
    }

    /// Copies `bytes` at `offset` of `buf` back to the host (allocates a staging buffer: for
    /// tests, the self-test and state snapshots, not the decode loop).
    pub fn read_bytes(
        &self,
        buf: &wgpu::Buffer,
        offset: u64,
        bytes: u64,
    ) -> Result<Vec<u8>, GpuError> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("weft readback"),
            size: bytes.next_multiple_of(4).max(4),
            usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        enc.copy_buffer_to_buffer(buf, offset, &staging, 0, bytes.next_multiple_of(4));
        self.queue.submit([enc.finish()]);
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|e| GpuError::Readback(e.to_string()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let out = slice
            .get_mapped_range()
            .map_err(|e| GpuError::Readback(e.to_string()))?[..bytes as usize]
            .to_vec();
        staging.unmap();
        Ok(out)
    }

    /// f32 version of [`GpuContext::read_bytes`]: `len` floats from float index `off`.
    pub fn read_f32(
        &self,
        buf: &wgpu::Buffer,
        off: usize,
        len: usize,
    ) -> Result<Vec<f32>, GpuError> {
        let b = self.read_bytes(buf, 4 * off as u64, 4 * len as u64)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Writes `data` at float index `off` of `buf`.
    pub fn write_f32(&self, buf: &wgpu::Buffer, off: usize, data: &[f32]) {
        let mut bytes = Vec::with_capacity(4 * data.len());
        data.iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
        self.queue.write_buffer(buf, 4 * off as u64, &bytes);
    }
}

/// Whether wgpu wraps every array index of a kernel in a clamp and every loop in a counter.
/// Off (`WEFT_GPU_CHECKS=1` turns them on, `=0` off everywhere): every view and binding a kernel
/// addresses is checked against its buffer on the host before any dispatch exists (ops.rs), and
/// every loop is bounded by a uniform parameter, so the checks only cost time (H100, zamba2-2.7b
/// Q8_0 decode: GPU pass 8.6 → 7.5 ms without them). Kept on by default for the multi-token
/// Q4_0 matvec, whose prefill ran slower without them (zamba2-2.7b Q4_0 prefill 423 → 263 tok/s).
fn runtime_checks(kernel: Kernel, defines: &[&str]) -> bool {
    match std::env::var_os("WEFT_GPU_CHECKS") {
        Some(v) => v == "1",
        None => {
            kernel == Kernel::MatVec
                && defines.contains(&"Q4_0")
                && !defines.iter().any(|d| ["T1", "EXPERT"].contains(d))
        }
    }
}
