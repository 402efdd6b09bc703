//! Weights on the GPU: matrices repacked and sharded ([`super::repack`]) and f32 vectors
//! (norm weights, biases, conv taps, A, D) packed into a few pages at 256-byte offsets.
//! Uploads stream: host memory holds one shard or one page at a time.

use std::ops::Range;

use wgpu::BufferUsages;

use super::repack::{GpuType, ShardSpec, layout, plan_shards, repack};
use super::{Bind, GpuContext, GpuError, ensure};
use crate::cpu::matvec::WeightView;

/// One shard of a matrix: a buffer holding `experts` × `rows`.
#[derive(Clone, Debug)]
pub struct GpuShard {
    pub buffer: wgpu::Buffer,
    pub rows: Range<usize>,
    pub experts: Range<usize>,
    /// Index in u32 words of the scale plane.
    pub scale_off: u32,
}

/// A weight matrix (or a stack of expert matrices) on the GPU.
#[derive(Clone, Debug)]
pub struct GpuMatrix {
    pub ty: GpuType,
    pub rows: usize,
    pub cols: usize,
    pub experts: usize,
    pub shards: Vec<GpuShard>,
}

impl GpuMatrix {
    /// Repacks and uploads `views` (one per expert; same type and shape), sharded to fit the
    /// device's binding limit.
    pub fn upload(ctx: &GpuContext, label: &str, views: &[WeightView]) -> Result<Self, GpuError> {
        Self::upload_limited(ctx, label, views, ctx.max_binding())
    }

    /// [`GpuMatrix::upload`] with shards of at most `max` bytes (≤ the device limit).
    pub fn upload_limited(
        ctx: &GpuContext,
        label: &str,
        views: &[WeightView],
        max: u64,
    ) -> Result<Self, GpuError> {
        let v0 = views
            .first()
            .ok_or_else(|| GpuError::Shape(format!("{label}: no matrix")))?;
        for v in views {
            ensure!(
                v.ty == v0.ty && v.rows == v0.rows && v.cols == v0.cols,
                "{label}: experts differ in type or shape"
            );
        }
        let ty = GpuType::of(v0.ty).ok_or(GpuError::Unsupported(v0.ty))?;
        ensure!(
            !matches!(ty, GpuType::Q8_0 | GpuType::Q4_0) || v0.cols.is_multiple_of(32),
            "{label}: {} columns are not whole blocks",
            v0.cols
        );
        let (rows, cols, experts) = (v0.rows, v0.cols, views.len());
        let max = max.min(ctx.max_binding());
        let plan = plan_shards(ty, rows, cols, experts, max).ok_or_else(|| GpuError::TooLarge {
            what: format!("{label}: one row or expert"),
            need: layout(ty, if experts > 1 { rows } else { 1 } as u64, cols as u64).bytes,
            max,
        })?;
        let mut bytes = Vec::new();
        let mut shards = Vec::with_capacity(plan.len());
        for spec in plan {
            repack(views, &spec, &mut bytes).ok_or(GpuError::Unsupported(v0.ty))?;
            let lay = layout(
                ty,
                (spec.experts.len() * spec.rows.len()) as u64,
                cols as u64,
            );
            let buffer = upload_bytes(ctx, label, &bytes);
            let ShardSpec { experts, rows } = spec;
            shards.push(GpuShard {
                buffer,
                rows,
                experts,
                scale_off: lay.scale_off,
            });
        }
        Ok(GpuMatrix {
            ty,
            rows,
            cols,
            experts,
            shards,
        })
    }

    /// Bytes on the GPU.
    pub fn bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.buffer.size()).sum()
    }
}

/// A storage buffer initialised with `bytes` (length a multiple of 4).
pub(crate) fn upload_bytes(ctx: &GpuContext, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    let size = (bytes.len() as u64).next_multiple_of(16).max(16);
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage: BufferUsages::STORAGE | BufferUsages::COPY_DST,
        mapped_at_creation: true,
    });
    buffer
        .slice(..)
        .get_mapped_range_mut()
        .expect("mapped at creation")
        .slice(..bytes.len())
        .copy_from_slice(bytes);
    buffer.unmap();
    buffer
}

/// Where a vector lives in a [`VectorPool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VecRef {
    pub page: usize,
    pub offset: u64,
    pub len: usize,
}

/// f32 vectors packed into pages of at most `page_bytes`, each vector at a 256-byte offset so
/// that it can be bound alone.
#[derive(Debug)]
pub struct VectorPool {
    pages: Vec<wgpu::Buffer>,
    cur: Vec<u8>,
    page_bytes: u64,
}

impl VectorPool {
    pub fn new(ctx: &GpuContext) -> Self {
        VectorPool {
            pages: Vec::new(),
            cur: Vec::new(),
            page_bytes: ctx.max_binding().min(32 << 20),
        }
    }

    /// Adds `data`; its binding exists once [`VectorPool::flush`] has run.
    pub fn add(&mut self, ctx: &GpuContext, data: &[f32]) -> Result<VecRef, GpuError> {
        let len = 4 * data.len().max(1) as u64;
        if len > self.page_bytes {
            return Err(GpuError::TooLarge {
                what: "vector".into(),
                need: len,
                max: self.page_bytes,
            });
        }
        let at = (self.cur.len() as u64).next_multiple_of(ctx.align());
        if at + len > self.page_bytes {
            self.flush(ctx);
            return self.add(ctx, data);
        }
        self.cur.resize(at as usize, 0);
        data.iter()
            .for_each(|v| self.cur.extend_from_slice(&v.to_le_bytes()));
        if data.is_empty() {
            self.cur.extend_from_slice(&[0; 4]);
        }
        Ok(VecRef {
            page: self.pages.len(),
            offset: at,
            len: data.len(),
        })
    }

    /// Uploads the page being filled.
    pub fn flush(&mut self, ctx: &GpuContext) {
        if !self.cur.is_empty() {
            self.pages
                .push(upload_bytes(ctx, "weft vectors", &self.cur));
            self.cur.clear();
        }
    }

    /// The binding of a vector (after [`VectorPool::flush`]).
    pub fn bind(&self, r: &VecRef) -> Bind {
        Bind {
            buffer: self.pages[r.page].clone(),
            offset: r.offset,
            size: 4 * r.len.max(1) as u64,
        }
    }

    /// Bytes on the GPU.
    pub fn bytes(&self) -> u64 {
        self.pages.iter().map(|b| b.size()).sum()
    }
}
