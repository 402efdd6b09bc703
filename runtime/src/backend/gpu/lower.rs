//! Lowering of Program ops to GPU dispatches: one op becomes one dispatch (a matrix split into
//! shards becomes one per shard), except where [`Resources::lower_all`] fuses a short pattern
//! into one matvec dispatch (the CPU Program is unchanged):
//! - `RmsNorm` or one-group `GatedRmsNorm` (this one only before a Q8_0 / Q4_0 matrix, see
//!   [`gated_fusable`]) followed by a `MatMul` of its output: the norm becomes
//!   the matvec's prologue (each row's lanes accumulate Σ u² beside the dot product; the
//!   workgroups also write the normalised row where a later op reads it); only
//!   where the matvec sees one token (decode lists, a prefill's last row);
//! - a `MatMul` followed by `Add`/`AddInPlace` of its output: the sum is the epilogue;
//! - a `MatMul` and a later `Softplus` over some of its output's columns, when no op in between
//!   touches those columns: the softplus is the epilogue of those rows;
//! - a one-token `SiluMul`/`GeluMul` whose product only the next `MatMul` reads: the product
//!   is that matvec's prologue (matvec1 stages up ⊙ act(gate); the product never exists);
//! - a one-token `MatMul` and a later `Conv1dSilu` over some of its output's columns (Mamba-2's
//!   in_proj → conv), where the adapter has 7 storage buffers per kernel: the thread finishing
//!   each of those rows takes its channel's conv step (one dispatch fewer per layer).
//!
//! A pattern is fused only when the fused kernel's writes overlap none of the ranges other
//! workgroups of the same dispatch read (else the ops are lowered one by one).
//!
//! Two adjacent independent `Copy` ops (a concatenation's halves) or `Rope` ops with the same
//! head dim, θ and layout (a query and a key) also share one dispatch ([`paired`]).

use std::collections::HashMap;

use weft_kernels::gpu::ops::{
    self, AttnShape, ConvEpilogue, Epilogue, FusedNorm, Glu, GluIn, ScanViews,
};
use weft_kernels::gpu::repack::GpuType;
use weft_kernels::gpu::{Bind, GpuError, GpuMatrix, Recorder, VecRef, VectorPool, View};

use crate::program::{Buf, Op, Role, RopeLayout, Rows, StateRange, WeightId};

/// What ops bind besides the arena.
pub struct Resources {
    pub matrices: HashMap<WeightId, GpuMatrix>,
    pub vectors: HashMap<WeightId, VecRef>,
    /// RoPE inverse frequencies by (head dim, θ bits).
    pub inv_freq: HashMap<(usize, u32), VecRef>,
    pub pool: VectorPool,
    pub state: wgpu::Buffer,
    /// Byte offset in `state` of each state range (by its float offset in the CPU layout).
    pub state_at: HashMap<usize, u64>,
    pub rings: Vec<wgpu::Buffer>,
    pub scratch: wgpu::Buffer,
    pub sinks: usize,
    pub window: usize,
    /// The rings keep f16 keys and values.
    pub kv_f16: bool,
}

pub fn view(b: &Buf) -> View {
    View {
        off: b.off,
        stride: b.stride,
        width: b.width,
        rows: match b.rows {
            Rows::All => weft_kernels::gpu::Rows::All,
            Rows::Last => weft_kernels::gpu::Rows::Last,
            Rows::One => weft_kernels::gpu::Rows::One,
        },
    }
}

/// Whether a one-group gated RMSNorm is fused into the next matvec: only where that matvec has
/// the one-token staged kernel (matvec1.wgsl, Q8_0 / Q4_0), which applies the gate and norm once
/// per workgroup. With matvec.wgsl every row reloads x, z and the norm weight and recomputes
/// silu: on the H100 ≈ 71 µs against ≈ 25 + 14 µs for the matvec and the separate norm
/// (zamba2-2.7b out_proj).
fn gated_fusable(m: &GpuMatrix) -> bool {
    matches!(m.ty, GpuType::Q8_0 | GpuType::Q4_0)
}

/// Arena floats `b` may touch in any run of up to `max_rows` tokens.
fn extent(b: &Buf, max_rows: usize) -> std::ops::Range<usize> {
    match b.rows {
        Rows::One => b.off..b.off + b.width,
        Rows::All | Rows::Last => b.off..b.off + (max_rows.max(1) - 1) * b.stride + b.width,
    }
}

fn overlap(a: &Buf, b: &Buf, max_rows: usize) -> bool {
    let (a, b) = (extent(a, max_rows), extent(b, max_rows));
    a.start < b.end && b.start < a.end
}

/// Whether `op` reads or writes arena floats of `b`.
fn touches(op: &Op<Buf>, b: &Buf, max_rows: usize) -> bool {
    let mut hit = false;
    op.for_each(|_, v| hit |= overlap(v, b, max_rows));
    hit
}

/// Whether an op after `m` reads floats of `b` before any op writes over them (values are placed
/// by liveness: a fresh write into `b`'s floats means `b` is dead by then).
fn read_later(ops: &[Op<Buf>], m: usize, b: &Buf, max_rows: usize) -> bool {
    for op in &ops[m + 1..] {
        let (mut read, mut written) = (false, false);
        op.for_each(|role, v| {
            if overlap(v, b, max_rows) {
                match role {
                    Role::Read => read = true,
                    Role::Write => written = true,
                }
            }
        });
        if read || (written && op.updates_in_place()) {
            return true;
        }
        if written {
            return false;
        }
    }
    false
}

/// A fused norm: (z, norm weight, eps, the norm's output if a later op reads it).
type Prologue = (Option<Buf>, Option<WeightId>, f32, Option<Buf>);

/// A fused matvec: the ops it replaces (indices into the Program) and its pieces.
struct Fused {
    ops: Vec<usize>,
    w: WeightId,
    x: Buf,
    y: Buf,
    norm: Option<Prologue>,
    softplus: Option<(usize, usize, Option<WeightId>, Option<f32>)>,
    add: Option<(Buf, Buf)>,
    conv: Option<FusedConv>,
    /// A GLU prologue: (gate, activation); `x` is then the up half.
    glu: Option<(Buf, Glu)>,
}

/// A conv step fused behind a matvec: (first row, output, weight, bias, state).
type FusedConv = (usize, Buf, WeightId, Option<WeightId>, StateRange);

/// The fusion starting at op `i`, if any (see the module comment).
fn fuse_at(
    ops: &[Op<Buf>],
    i: usize,
    max_rows: usize,
    gated_ok: impl Fn(WeightId) -> bool,
    conv_ok: bool,
) -> Option<Fused> {
    let ov = |a: &Buf, b: &Buf| overlap(a, b, max_rows);
    // Prologue.
    // Only where the matvec sees one token (decode, a prefill's last row): with several tokens
    // per workgroup the per-element Σ u² and norm-weight multiply cost more in the matvec's
    // inner loop than the separate norm dispatch (prefill on the H100: zamba2-2.7b Q4_0
    // 441 → 267 tok/s with the prologue).
    let one = |b: &Buf| max_rows == 1 || b.rows != Rows::All;
    let (norm, m) = match &ops[i] {
        Op::RmsNorm { x, y, w, eps } if one(y) => (Some((*x, None, *w, *eps, *y)), i + 1),
        Op::GatedRmsNorm {
            x,
            z,
            y,
            w,
            group,
            eps,
        } if *group == x.width
            && one(y)
            && matches!(ops.get(i + 1), Some(Op::MatMul { w, .. }) if gated_ok(*w)) =>
        {
            (Some((*x, Some(*z), Some(*w), *eps, *y)), i + 1)
        }
        _ => (None, i),
    };
    // Or a GLU product (one-token lists: matvec1 only).
    let (glu, m) = match &ops[i] {
        Op::SiluMul { gate, up, y } if max_rows == 1 => (Some((*gate, *up, *y, Glu::Silu)), i + 1),
        Op::GeluMul { gate, up, y } if max_rows == 1 => (Some((*gate, *up, *y, Glu::Gelu)), i + 1),
        _ => (None, m),
    };
    let Some(Op::MatMul { w, x: mx, y }) = ops.get(m) else {
        return None;
    };
    let mut f = Fused {
        ops: (i..=m).collect(),
        w: *w,
        x: *mx,
        y: *y,
        norm: None,
        softplus: None,
        add: None,
        conv: None,
        glu: None,
    };
    // Ranges other workgroups read while this one writes.
    let mut reads = vec![*mx];
    if let Some((gate, up, t, act)) = glu {
        let clash = [gate, up].iter().any(|b| ov(b, y));
        if t != *mx || !gated_ok(*w) || clash || read_later(ops, m, &t, max_rows) {
            return None;
        }
        f.x = up;
        f.glu = Some((gate, act));
        reads = vec![up, gate];
    }
    if let Some((nx, z, nw, eps, ny)) = norm {
        if ny != *mx {
            return None;
        }
        let ins = [Some(nx), z];
        let ins: Vec<Buf> = ins.into_iter().flatten().collect();
        if ins.iter().any(|b| ov(b, &ny) || ov(b, y)) {
            return None;
        }
        f.x = nx;
        f.norm = Some((z, nw, eps, read_later(ops, m, &ny, max_rows).then_some(ny)));
        reads = ins;
    }
    // Epilogue: a residual add right after, or else a later softplus of some of y's columns.
    let add = match ops.get(m + 1) {
        Some(Op::Add { a, b, y: o }) if b == y => Some((*a, *o)),
        Some(Op::Add { a, b, y: o }) if a == y => Some((*b, *o)),
        Some(Op::AddInPlace { acc, x }) if x == y => Some((*acc, *acc)),
        _ => None,
    };
    if let Some((a, o)) = add {
        let writes = [Some(*y), f.norm.and_then(|n| n.3)];
        let clash = reads.iter().any(|r| ov(r, &o))
            || writes.iter().flatten().any(|w| ov(w, &o) || ov(w, &a))
            || (a != o && ov(&a, &o))
            || a.width != y.width
            || [a.rows, o.rows]
                .iter()
                .any(|r| (*r == Rows::All) != (y.rows == Rows::All));
        if !clash {
            f.add = Some((a, o));
            f.ops.push(m + 1);
        }
        return Some(f);
    }
    if f.glu.is_some() {
        return Some(f);
    }
    let inside = |d: &Buf| {
        d.rows == y.rows
            && d.stride == y.stride
            && d.off >= y.off
            && d.off + d.width <= y.off + y.width
    };
    for k in m + 1..ops.len().min(m + 5) {
        if let Op::Softplus { x: d, bias, min } = &ops[k] {
            if inside(d) && !ops[m + 1..k].iter().any(|o| touches(o, d, max_rows)) {
                f.softplus = Some((d.off - y.off, d.width, *bias, *min));
                f.ops.push(k);
            }
            break;
        }
    }
    // A conv step over some of y's columns: only one-token lists (matvec1), where no op in
    // between touches its input or output, and its output overlaps nothing this dispatch
    // reads or writes besides.
    if !(conv_ok && max_rows == 1 && gated_ok(*w)) {
        return Some(f);
    }
    for k in m + 1..ops.len().min(m + 6) {
        if let Op::Conv1dSilu {
            x: cx,
            y: cy,
            w: cw,
            b: cb,
            state,
        } = &ops[k]
        {
            let lo = cx.off.wrapping_sub(y.off);
            let sp_clash = f
                .softplus
                .is_some_and(|(s, len, ..)| s < lo + cx.width && lo < s + len);
            let between = (m + 1..k)
                .filter(|j| !f.ops.contains(j))
                .any(|j| touches(&ops[j], cx, max_rows) || touches(&ops[j], cy, max_rows));
            let writes = [Some(*y), f.norm.and_then(|n| n.3)];
            let clash = reads
                .iter()
                .chain(writes.iter().flatten())
                .any(|b| ov(b, cy));
            if inside(cx) && !sp_clash && !between && !clash {
                f.conv = Some((lo, *cy, *cw, *cb, *state));
                f.ops.push(k);
            }
            break;
        }
    }
    Some(f)
}

/// Whether ops `i` and `i + 1` can run as one dispatch: two copies or two RoPEs (same head dim,
/// θ and layout) where neither reads or writes what the other writes.
fn paired(ops: &[Op<Buf>], i: usize, max_rows: usize) -> bool {
    let ov = |a: &Buf, b: &Buf| overlap(a, b, max_rows);
    match (&ops[i], ops.get(i + 1)) {
        (Op::Copy { x, y }, Some(Op::Copy { x: x2, y: y2 })) => {
            !ov(y, x2) && !ov(y, y2) && !ov(y2, x)
        }
        (
            Op::Rope {
                x,
                head_dim,
                theta,
                layout,
                ..
            },
            Some(Op::Rope {
                x: x2,
                head_dim: d2,
                theta: t2,
                layout: l2,
                ..
            }),
        ) => head_dim == d2 && theta.to_bits() == t2.to_bits() && layout == l2 && !ov(x, x2),
        _ => false,
    }
}

impl Resources {
    /// Queues the dispatches of a Program's ops, fusing where [`fuse_at`] finds a pattern.
    pub fn lower_all(
        &self,
        r: &mut Recorder,
        ops: &[Op<Buf>],
        max_rows: usize,
    ) -> Result<(), GpuError> {
        // WEFT_GPU_NOFUSE=1: one dispatch per op (to measure what fusion buys).
        let fuse = std::env::var_os("WEFT_GPU_NOFUSE").is_none_or(|v| v == "0");
        let conv_ok = r.ctx.storage_buffers() >= 7;
        let mut done = vec![false; ops.len()];
        for i in 0..ops.len() {
            if done[i] {
                continue;
            }
            if fuse && !done.get(i + 1).copied().unwrap_or(true) && paired(ops, i, max_rows) {
                self.lower_pair(r, &ops[i], &ops[i + 1])?;
                done[i] = true;
                done[i + 1] = true;
                continue;
            }
            let gated_ok = |w: WeightId| gated_fusable(self.mat(w));
            let fused = fuse
                .then(|| fuse_at(ops, i, max_rows, gated_ok, conv_ok))
                .flatten();
            match fused.filter(|f| f.ops.len() > 1) {
                Some(f) => {
                    self.lower_fused(r, &f)?;
                    f.ops.iter().for_each(|&k| done[k] = true);
                }
                None => {
                    self.lower(r, &ops[i])?;
                    done[i] = true;
                }
            }
        }
        Ok(())
    }

    /// Two ops [`paired`] accepted, as one dispatch.
    fn lower_pair(&self, r: &mut Recorder, a: &Op<Buf>, b: &Op<Buf>) -> Result<(), GpuError> {
        match (a, b) {
            (Op::Copy { x, y }, Op::Copy { x: x2, y: y2 }) => {
                ops::copy2(r, (view(x), view(y)), (view(x2), view(y2)))
            }
            (
                Op::Rope {
                    x,
                    heads,
                    head_dim,
                    theta,
                    layout,
                },
                Op::Rope {
                    x: x2, heads: h2, ..
                },
            ) => {
                let f = self.inv_freq(*head_dim, *theta);
                let neox = *layout == RopeLayout::Neox;
                ops::rope2(r, (view(x), *heads), (view(x2), *h2), *head_dim, &f, neox)
            }
            _ => unreachable!("lower_pair: only pairs `paired` accepts"),
        }
    }

    fn lower_fused(&self, r: &mut Recorder, f: &Fused) -> Result<(), GpuError> {
        let norm = f.norm.map(|(z, w, eps, out)| FusedNorm {
            z: z.as_ref().map(view),
            w: w.map(|w| self.vec(w)),
            eps,
            out: out.as_ref().map(view),
        });
        let epi = Epilogue {
            softplus: f
                .softplus
                .map(|(lo, len, b, min)| (lo, len, b.map(|b| self.vec(b)), min)),
            add: f.add.map(|(a, o)| (view(&a), view(&o))),
            conv: f.conv.as_ref().map(|(lo, cy, w, b, state)| {
                let st = self.state(state);
                ConvEpilogue {
                    lo: *lo,
                    y: view(cy),
                    k: state.len / cy.width.max(1),
                    state: st,
                    w: self.vec(*w),
                    b: b.map(|b| self.vec(b)),
                }
            }),
        };
        if let Some((gate, act)) = f.glu {
            let glu = GluIn {
                gate: view(&gate),
                act,
            };
            return ops::matvec_glu(r, self.mat(f.w), view(&f.x), &glu, view(&f.y), &epi);
        }
        ops::matvec_fused(
            r,
            self.mat(f.w),
            view(&f.x),
            view(&f.y),
            norm.as_ref(),
            &epi,
        )
    }

    /// RoPE's inverse frequencies for (head dim, θ), uploaded at init.
    fn inv_freq(&self, head_dim: usize, theta: f32) -> Bind {
        self.pool.bind(&self.inv_freq[&(head_dim, theta.to_bits())])
    }

    fn mat(&self, w: WeightId) -> &GpuMatrix {
        &self.matrices[&w]
    }

    fn vec(&self, w: WeightId) -> Bind {
        self.pool.bind(&self.vectors[&w])
    }

    fn state(&self, s: &StateRange) -> Bind {
        Bind {
            buffer: self.state.clone(),
            offset: self.state_at[&s.off],
            size: 4 * s.len as u64,
        }
    }

    fn whole(b: &wgpu::Buffer) -> Bind {
        Bind::whole(b)
    }

    /// Queues the dispatches of `op`.
    pub fn lower(&self, r: &mut Recorder, op: &Op<Buf>) -> Result<(), GpuError> {
        let v = view;
        match op {
            Op::MatMul { w, x, y } => ops::matvec(r, self.mat(*w), v(x), v(y), false),
            Op::ExpertMatMul {
                w,
                x,
                y,
                route,
                slot,
            } => ops::expert_matvec(
                r,
                self.mat(*w),
                v(x),
                v(y),
                v(route),
                route.width / 2,
                *slot,
            ),
            Op::AddBias { y, b } => ops::add_bias(r, v(y), &self.vec(*b)),
            Op::RmsNorm { x, y, w, eps } => {
                let w = w.map(|w| self.vec(w));
                ops::rms_norm(r, v(x), v(y), w.as_ref(), *eps)
            }
            Op::GatedRmsNorm {
                x,
                z,
                y,
                w,
                group,
                eps,
            } => ops::gated_rms_norm(r, v(x), v(z), v(y), &self.vec(*w), *group, *eps),
            Op::Conv1dSilu { x, y, w, b, state } => {
                let k = state.len / x.width.max(1);
                let b = b.map(|b| self.vec(b));
                ops::conv1d_silu(
                    r,
                    v(x),
                    v(y),
                    &self.state(state),
                    &self.vec(*w),
                    b.as_ref(),
                    k,
                )
            }
            Op::Softplus { x, bias, min } => {
                let b = bias.map(|b| self.vec(b));
                ops::softplus(r, v(x), b.as_ref(), *min)
            }
            Op::SsmScan1 {
                x,
                dt,
                b,
                c,
                y,
                a,
                d,
                state,
            } => {
                let sv = ScanViews {
                    x: v(x),
                    dt: v(dt),
                    b: v(b),
                    c: v(c),
                    y: v(y),
                };
                ops::ssm_scan1(r, sv, &self.state(state), &self.vec(*a), &self.vec(*d))
            }
            Op::SsmScan2 {
                x,
                dt,
                b,
                c,
                y,
                a,
                d,
                state,
                heads,
                groups,
            } => {
                let sv = ScanViews {
                    x: v(x),
                    dt: v(dt),
                    b: v(b),
                    c: v(c),
                    y: v(y),
                };
                let st = self.state(state);
                ops::ssm_scan2(r, sv, &st, &self.vec(*a), &self.vec(*d), *heads, *groups)
            }
            Op::SiluMul { gate, up, y } => ops::glu(r, Glu::Silu, v(gate), v(up), v(y)),
            Op::GeluMul { gate, up, y } => ops::glu(r, Glu::Gelu, v(gate), v(up), v(y)),
            Op::Rope {
                x,
                heads,
                head_dim,
                theta,
                layout,
            } => {
                let f = self.inv_freq(*head_dim, *theta);
                ops::rope(r, v(x), *heads, *head_dim, &f, *layout == RopeLayout::Neox)
            }
            Op::Attend {
                q,
                k,
                v: vv,
                y,
                kv,
                heads,
                kv_heads,
                head_dim,
                scale,
            } => {
                let s = AttnShape {
                    heads: *heads,
                    kv_heads: *kv_heads,
                    head_dim: *head_dim,
                    scale: *scale,
                    sinks: self.sinks,
                    window: self.window,
                    kv_f16: self.kv_f16,
                };
                let ring = Self::whole(&self.rings[*kv]);
                let scratch = Self::whole(&self.scratch);
                ops::attend(r, s, v(q), v(k), v(vv), v(y), &ring, &scratch)
            }
            Op::MoeRoute { logits, route, k } => ops::moe_route(r, v(logits), v(route), *k),
            Op::ScaleAdd {
                acc,
                x,
                route,
                slot,
            } => ops::scale_add(r, v(acc), v(x), v(route), route.width / 2, *slot),
            Op::Add { a, b, y } => ops::add(r, v(a), v(b), v(y)),
            Op::AddInPlace { acc, x } => ops::add(r, v(acc), v(x), v(acc)),
            Op::Copy { x, y } => ops::copy(r, v(x), v(y)),
            Op::Zero { y } => ops::zero(r, v(y)),
        }
    }
}
