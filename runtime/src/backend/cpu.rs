//! The CPU backend: interprets a Program op by op with the kernels of `weft-kernels` (SIMD where
//! the CPU has it), spreading the heavy ops over a persistent thread pool.
//!
//! Each op writes one arena buffer and reads others that never overlap it (the builder checks
//! this), so the arena is split into "before", "output" and "after" with safe borrows. Scratch
//! buffers and the pool's threads are made when the backend is created; running never
//! allocates or spawns.
//!
//! Threads split work so that every output element is computed exactly as on one thread:
//! matvec by output rows, prefill matmul by tokens (int8 expert matmuls by output features),
//! scans by heads (Mamba-2) or channels (Mamba-1), attention by query heads (prefill: blocks of
//! rows × one KV head), conv by channels.
//! Results do not depend on the thread count. Element-wise ops run on the calling thread.

use std::ops::Range;

use weft_kernels::cpu::attn::{KvElem, KvRows, f16};
use weft_kernels::cpu::attn_block::{
    self, BlockGeom, MAX_QUERIES, Positions, Source, Visibility, block_scratch_len,
};
use weft_kernels::cpu::gemm::{self, Packed};
use weft_kernels::cpu::matvec::WeightView;
use weft_kernels::cpu::matvec_q8::{self, Q8Act};
use weft_kernels::cpu::{act, conv, matvec, moe, norm, rope, ssm};
use weft_kernels::pool::{ThreadPool, physical_cores, split_range};

use crate::model::Model;
use crate::program::{Buf, Op, Program, Role, RopeLayout, Rows};
use crate::state::{KvType, State};

/// Weight matrices smaller than this run on the calling thread (a dispatch costs ~1-2 µs).
const PAR_MIN_BYTES: usize = 48 << 10;

/// Scratch space and threads of the CPU interpreter.
pub struct CpuBackend {
    pool: ThreadPool,
    /// Attention scores, `slots` floats per thread.
    scores: Vec<f32>,
    slots: usize,
    probs: Vec<f32>,
    expert_ids: Vec<usize>,
    expert_weights: Vec<f32>,
    /// Int8 activations for Q8_0/Q4_0 weights, one per thread (empty when off).
    q8: Vec<Q8Act>,
    /// The same interleaved for the prefill matmul tiles, one per thread (empty when off).
    packed: Vec<Packed>,
    /// Prefill scratch of the Mamba kernels, `scan_per_thread` floats per thread: the Mamba-2
    /// scan's (a head's y of every row, then the kernel's own) or the conv rows kernel's.
    scan_scratch: Vec<f32>,
    scan_per_thread: usize,
    /// Prefill expert matmuls: the rows routed to one expert, `rows` per thread.
    expert_rows: Vec<u32>,
    rows: usize,
    /// Prefill block attention: the kernel's scratch, then one block's output, per thread.
    block_scratch: Vec<f32>,
    block_per: usize,
    /// The keys then the values of a prefill chunk rounded to f16 (`rows` × the widest f16
    /// ring each; empty without f16 rings).
    chunk_f16: Vec<f16>,
}

impl std::fmt::Debug for CpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuBackend")
            .field("threads", &self.pool.n_threads())
            .field("int8_activations", &!self.q8.is_empty())
            .finish()
    }
}

/// What one run works on: `n` tokens at absolute positions `pos0..pos0 + n`.
pub struct Run<'a> {
    pub model: &'a Model,
    pub arena: &'a mut [f32],
    pub state: &'a mut State,
    pub pos0: usize,
    pub n: usize,
}

/// A mutable slice that pool threads carve disjoint pieces out of.
struct Shared<T = f32> {
    ptr: *mut T,
    len: usize,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Shared<T> {}

// SAFETY: only used inside a pool dispatch, where each thread takes ranges no other thread
// takes, while the slice it was made from stays mutably borrowed by the dispatching code.
unsafe impl<T> Sync for Shared<T> {}
unsafe impl<T> Send for Shared<T> {}

impl<T> Shared<T> {
    fn new(s: &mut [T]) -> Self {
        Shared {
            ptr: s.as_mut_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// No two live results may overlap, and the source slice must outlive them.
    #[allow(clippy::mut_from_ref)]
    unsafe fn get(&self, r: Range<usize>) -> &mut [T] {
        assert!(r.start <= r.end && r.end <= self.len, "shared range");
        // SAFETY: in bounds (checked); disjointness is the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.len()) }
    }
}

/// The per-thread int8 activation buffers, handed out by thread index.
#[derive(Clone, Copy)]
struct SharedQ8 {
    ptr: *mut Q8Act,
    packed: *mut Packed,
    len: usize,
}

// SAFETY: as for `Shared`: thread `idx` only touches element `idx`.
unsafe impl Sync for SharedQ8 {}
unsafe impl Send for SharedQ8 {}

impl SharedQ8 {
    /// # Safety
    /// Each `idx` is used by one thread at a time.
    #[allow(clippy::mut_from_ref)]
    unsafe fn get(&self, idx: usize) -> &mut Q8Act {
        assert!(idx < self.len, "q8 scratch index");
        // SAFETY: in bounds; exclusive per index by contract.
        unsafe { &mut *self.ptr.add(idx) }
    }

    /// Thread `idx`'s quantized activations and their interleaved copy.
    ///
    /// # Safety
    /// As [`SharedQ8::get`].
    #[allow(clippy::mut_from_ref)]
    unsafe fn get_packed(&self, idx: usize) -> (&mut Q8Act, &mut Packed) {
        assert!(idx < self.len, "q8 scratch index");
        // SAFETY: in bounds (`packed` has `len` elements too); exclusive per index by contract.
        unsafe { (&mut *self.ptr.add(idx), &mut *self.packed.add(idx)) }
    }
}

impl CpuBackend {
    /// Sizes the scratch buffers for every op of `programs` and the rings of `state`, and starts
    /// `threads` threads in all (0: the physical cores). With `int8_activations`, Q8_0/Q4_0
    /// matrices multiply int8-quantized activations (llama.cpp's scheme: faster, adds the
    /// activation rounding); otherwise f32 activations (exactly the stored weights' values).
    pub fn new(
        programs: &[&Program],
        state: &State,
        threads: usize,
        int8_activations: bool,
    ) -> Self {
        let pool = ThreadPool::new(if threads == 0 {
            physical_cores()
        } else {
            threads
        });
        let n = pool.n_threads();
        let slots = state.kv.iter().map(|r| r.capacity()).max().unwrap_or(0);
        let f16_width = state
            .kv
            .iter()
            .filter(|r| r.kv_type() == KvType::F16)
            .map(|r| r.width())
            .max()
            .unwrap_or(0);
        let (mut experts, mut k, mut cols, mut rows) = (0, 0, 0, 1);
        let (mut scan_per_thread, mut moe_prefill, mut block_per) = (0, false, 0);
        for p in programs {
            rows = rows.max(p.rows);
            for op in &p.ops {
                match op {
                    Op::MoeRoute { logits, k: kk, .. } => {
                        experts = experts.max(logits.width);
                        k = k.max(*kk);
                    }
                    Op::MatMul { x, .. } => cols = cols.max(x.width),
                    Op::ExpertMatMul { x, .. } => {
                        cols = cols.max(x.width);
                        moe_prefill |= p.rows > 1;
                    }
                    Op::Attend { head_dim, .. } if p.rows > 1 => {
                        let need = block_scratch_len(*head_dim) + MAX_QUERIES * head_dim;
                        block_per = block_per.max(need);
                    }
                    Op::Conv1dSilu { x, .. } if p.rows > 1 => {
                        scan_per_thread =
                            scan_per_thread.max(conv::conv1d_rows_scratch_len(x.width));
                    }
                    Op::SsmScan2 {
                        x,
                        b,
                        heads,
                        groups,
                        ..
                    } if p.rows > 1 => {
                        let (hp, ns) = (x.width / heads, b.width / groups);
                        scan_per_thread = scan_per_thread
                            .max(p.rows * hp + ssm::ssm_scan_mamba2_scratch_len(p.rows, ns));
                    }
                    _ => {}
                }
            }
        }
        let (q8, packed) = if int8_activations {
            let cols = cols.next_multiple_of(32);
            (
                (0..n).map(|_| Q8Act::new(cols, rows)).collect(),
                (0..n).map(|_| Packed::new(cols, rows)).collect(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        CpuBackend {
            pool,
            scores: vec![0.0; slots * n],
            slots,
            probs: vec![0.0; experts],
            expert_ids: vec![0; k],
            expert_weights: vec![0.0; k],
            q8,
            packed,
            scan_scratch: vec![0.0; scan_per_thread * n],
            scan_per_thread,
            expert_rows: vec![
                0;
                if moe_prefill && int8_activations {
                    rows * n
                } else {
                    0
                }
            ],
            rows,
            block_scratch: vec![0.0; block_per * n],
            block_per,
            chunk_f16: vec![f16::ZERO; 2 * rows * f16_width],
        }
    }

    /// Threads a run uses, the caller included.
    pub fn threads(&self) -> usize {
        self.pool.n_threads()
    }

    /// Writes the embedding rows of `tokens` into the Program's input (ids already checked).
    pub fn embed(&self, model: &Model, tokens: &[u32], input: Buf, arena: &mut [f32]) {
        let embd = model
            .plan()
            .token_embd
            .expect("the session only embeds tokens of models with a token embedding");
        let table = model.matrix(embd.id, 0);
        for (r, &t) in tokens.iter().enumerate() {
            matvec::dequantize_row_into(&table, t as usize, &mut arena[input.row(r, tokens.len())]);
        }
    }

    pub fn run(&mut self, program: &Program, run: Run) {
        let Run {
            model,
            arena,
            state,
            pos0,
            n,
        } = run;
        for op in &program.ops {
            self.exec(op, model, arena, state, pos0, n);
        }
    }

    fn exec(
        &mut self,
        op: &Op<Buf>,
        m: &Model,
        arena: &mut [f32],
        st: &mut State,
        pos0: usize,
        n: usize,
    ) {
        let mut target = None;
        op.for_each(|role, b| {
            if role == Role::Write {
                target = Some(*b);
            }
        });
        let target = target.expect("every op writes one buffer");
        let span = target.span(n);
        let (before, rest) = arena.split_at_mut(span.start);
        let (out, after) = rest.split_at_mut(span.len());
        let ins = Inputs {
            before,
            after,
            after_start: span.end,
            n,
        };
        let mut out = Output {
            slice: out,
            base: span.start,
            n,
        };
        let rows = target.row_count(n);
        let pos = |b: &Buf, r: usize| pos0 + if b.rows == Rows::All { r } else { n - 1 };

        let pool = &self.pool;
        let threads = pool.n_threads();
        let q8 = SharedQ8 {
            ptr: self.q8.as_mut_ptr(),
            packed: self.packed.as_mut_ptr(),
            len: self.q8.len(),
        };
        match *op {
            Op::MatMul { w, x, y } => {
                let w = m.matrix(w, 0);
                if rows == 1 {
                    matvec_par(pool, q8, &w, ins.row(&x, 0), out.row(&y, 0));
                } else {
                    // Tokens split across threads; each thread decodes the whole matrix.
                    let (x0, y0) = (x.row(0, n).start, y.row(0, n).start);
                    let (xs, ys) = (ins.span(&x), Shared::new(out.span(&y)));
                    let dense = x.is_dense() && y.is_dense();
                    pool.run(&|idx, nt| {
                        let tr = split_range(rows, 1, idx, nt);
                        if tr.is_empty() {
                            return;
                        }
                        // SAFETY: one q8 buffer per thread index.
                        let q8s = (!q8_off(q8, &w)).then(|| unsafe { q8.get_packed(idx) });
                        if dense {
                            let xt = &xs[tr.start * w.cols..tr.end * w.cols];
                            // SAFETY: token ranges of different threads are disjoint.
                            let yt = unsafe { ys.get(tr.start * w.rows..tr.end * w.rows) };
                            match q8s {
                                Some((qa, pk)) => {
                                    qa.quantize(xt, w.cols);
                                    gemm::matmul_q8(&w, qa, pk, yt);
                                }
                                None => matvec::matmul(&w, xt, tr.len(), yt),
                            }
                        } else {
                            let mut qa = q8s.map(|(qa, _)| qa);
                            for r in tr {
                                let xr = x.row(r, n);
                                let xr = &xs[xr.start - x0..xr.end - x0];
                                let yr = y.row(r, n);
                                // SAFETY: rows of different threads are disjoint.
                                let yr = unsafe { ys.get(yr.start - y0..yr.end - y0) };
                                match qa.as_deref_mut() {
                                    Some(qa) => {
                                        qa.quantize(xr, w.cols);
                                        matvec_q8::matvec_q8(&w, qa, yr);
                                    }
                                    None => matvec::matvec(&w, xr, yr),
                                }
                            }
                        }
                    });
                }
                let _ = threads;
            }
            Op::ExpertMatMul {
                w,
                x,
                y,
                route,
                slot,
            } => {
                let expert_of = |r: usize| {
                    let route = ins.row(&route, r);
                    route[route.len() / 2 + slot] as usize
                };
                if rows == 1 {
                    let wm = m.matrix(w, expert_of(0));
                    matvec_par(pool, q8, &wm, ins.row(&x, 0), out.row(&y, 0));
                } else if !q8_off(q8, &m.matrix(w, 0))
                    && gemm::tiled(&m.matrix(w, 0))
                    && !self.expert_rows.is_empty()
                {
                    // Prefill with int8 tiles: expert by expert, the rows routed to it go
                    // through the matmul tiles together; threads split each expert's output
                    // features (every thread quantizes the same rows: identical bytes).
                    let (x0, y0) = (x.row(0, n).start, y.row(0, n).start);
                    let (xs, ys) = (ins.span(&x), Shared::new(out.span(&y)));
                    let (lists, per) = (Shared::new(&mut self.expert_rows), self.rows);
                    pool.run(&|idx, nt| {
                        // SAFETY: one q8 buffer and one row list per thread index.
                        let (qa, pk) = unsafe { q8.get_packed(idx) };
                        let list = unsafe { lists.get(idx * per..(idx + 1) * per) };
                        for e in 0..m.experts(w) {
                            let wm = m.matrix(w, e);
                            let fr = split_range(wm.rows, 8, idx, nt);
                            if fr.is_empty() {
                                continue;
                            }
                            let mut k = 0;
                            for r in 0..rows {
                                if expert_of(r) == e {
                                    list[k] = r as u32;
                                    k += 1;
                                }
                            }
                            if k == 0 {
                                continue;
                            }
                            qa.quantize_rows(wm.cols, k, |i| {
                                let xr = x.row(list[i] as usize, n);
                                &xs[xr.start - x0..xr.end - x0]
                            });
                            let rb = wm.row_bytes();
                            let part = WeightView {
                                data: &wm.data[fr.start * rb..fr.end * rb],
                                rows: fr.len(),
                                ..wm
                            };
                            gemm::matmul_q8_to(&part, qa, pk, |i, r0, v| {
                                let yr = y.row(list[i] as usize, n).start - y0 + fr.start + r0;
                                // SAFETY: threads write disjoint feature ranges of each row.
                                gemm::copy_row(unsafe { ys.get(yr..yr + v.len()) }, v);
                            });
                        }
                    });
                } else {
                    let (x0, y0) = (x.row(0, n).start, y.row(0, n).start);
                    let (xs, ys) = (ins.span(&x), Shared::new(out.span(&y)));
                    pool.run(&|idx, nt| {
                        for r in split_range(rows, 1, idx, nt) {
                            let wm = m.matrix(w, expert_of(r));
                            let xr = x.row(r, n);
                            let xr = &xs[xr.start - x0..xr.end - x0];
                            let yr = y.row(r, n);
                            // SAFETY: rows of different threads are disjoint.
                            let yr = unsafe { ys.get(yr.start - y0..yr.end - y0) };
                            if q8_off(q8, &wm) {
                                matvec::matvec(&wm, xr, yr);
                            } else {
                                // SAFETY: one q8 buffer per thread index.
                                let qa = unsafe { q8.get(idx) };
                                qa.quantize(xr, wm.cols);
                                matvec_q8::matvec_q8(&wm, qa, yr);
                            }
                        }
                    });
                }
            }
            Op::AddBias { y, b } => {
                let b = m.vector(b);
                for r in 0..rows {
                    out.row(&y, r).iter_mut().zip(b).for_each(|(y, b)| *y += b);
                }
            }
            Op::RmsNorm { x, y, w, eps } => {
                for r in 0..rows {
                    match w {
                        Some(w) => norm::rms_norm(ins.row(&x, r), m.vector(w), eps, out.row(&y, r)),
                        None => norm::rms_norm_no_weight(ins.row(&x, r), eps, out.row(&y, r)),
                    }
                }
            }
            Op::GatedRmsNorm {
                x,
                z,
                y,
                w,
                group,
                eps,
            } => {
                let groups = x.width / group;
                for r in 0..rows {
                    norm::gated_rms_norm(
                        ins.row(&x, r),
                        ins.row(&z, r),
                        m.vector(w),
                        groups,
                        eps,
                        out.row(&y, r),
                    );
                }
            }
            Op::Conv1dSilu { x, y, w, b, state } => {
                let (w, b) = (m.vector(w), b.map(|b| m.vector(b)));
                let state = &mut st.recurrent[state.range()];
                if rows == 1 {
                    conv::conv1d_step_silu(state, ins.row(&x, 0), w, b, out.row(&y, 0));
                } else {
                    // Prefill: channels split across threads, each thread's rows kernel walks
                    // the rows in order (decode's exact arithmetic).
                    let (c, k) = (x.width, state.len() / x.width);
                    let y0 = y.row(0, n).start;
                    let (xs, ys, ss) =
                        (ins.span(&x), Shared::new(out.span(&y)), Shared::new(state));
                    let per = self.scan_per_thread;
                    let scratch = Shared::new(&mut self.scan_scratch);
                    pool.run(&|idx, nt| {
                        let ch = split_range(c, 16, idx, nt);
                        if ch.is_empty() {
                            return;
                        }
                        // SAFETY: channel ranges of different threads are disjoint; one
                        // scratch range per thread index.
                        let st = unsafe { ss.get(ch.start * k..ch.end * k) };
                        let sc = unsafe { scratch.get(idx * per..(idx + 1) * per) };
                        let (wc, bc) = (&w[ch.start * k..ch.end * k], b.map(|b| &b[ch.clone()]));
                        let xv = view(xs, ch.start, &x);
                        let mut out_row = |r: usize| {
                            let yr = y.row(r, n).start - y0;
                            // SAFETY: as above (this thread's channels of row r).
                            unsafe { ys.get(yr + ch.start..yr + ch.end) }
                        };
                        conv::conv1d_rows(st, xv, ch.len(), rows, wc, bc, true, sc, &mut out_row);
                    });
                }
            }
            Op::Softplus { x, bias, min } => {
                let bias = bias.map(|b| m.vector(b));
                for r in 0..rows {
                    let v = out.row(&x, r);
                    if let Some(b) = bias {
                        v.iter_mut().zip(b).for_each(|(v, b)| *v += b);
                    }
                    act::softplus_inplace(v);
                    if let Some(lo) = min {
                        v.iter_mut().for_each(|v| *v = v.max(lo));
                    }
                }
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
                let (a, d) = (m.vector(a), m.vector(d));
                let state = &mut st.recurrent[state.range()];
                let (ch, ns) = (x.width, state.len() / x.width);
                let y0 = y.row(0, n).start;
                let (ys, ss) = (Shared::new(out.span(&y)), Shared::new(state));
                pool.run(&|idx, nt| {
                    let cr = split_range(ch, 16, idx, nt);
                    if cr.is_empty() {
                        return;
                    }
                    let s = cr.start * ns..cr.end * ns;
                    // SAFETY: channel ranges of different threads are disjoint.
                    let st = unsafe { ss.get(s.clone()) };
                    for r in 0..rows {
                        let (xr, dtr, br, cc) = (
                            &ins.row(&x, r)[cr.clone()],
                            &ins.row(&dt, r)[cr.clone()],
                            ins.row(&b, r),
                            ins.row(&c, r),
                        );
                        let yr = y.row(r, n).start - y0;
                        // SAFETY: as above.
                        let yr = unsafe { ys.get(yr + cr.start..yr + cr.end) };
                        let (ar, dr) = (&a[s.clone()], &d[cr.clone()]);
                        ssm::ssm_step_mamba1(st, xr, dtr, ar, br, cc, dr, yr);
                    }
                });
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
                let (a, d) = (m.vector(a), m.vector(d));
                let dims = ssm::Mamba2Dims {
                    nh: heads,
                    p: x.width / heads,
                    n: b.width / groups,
                    g: groups,
                };
                let state = &mut st.recurrent[state.range()];
                let (p, ns) = (dims.p, dims.n);
                let y0 = y.row(0, n).start;
                let (ys, ss) = (Shared::new(out.span(&y)), Shared::new(state));
                let all = [x, dt, b, c].iter().all(|v| v.rows == Rows::All);
                if rows > 1 && all {
                    // Prefill: each head scans all rows of the run with its state rows held in
                    // registers (the states and y of `rows` decode steps up to rounding), into
                    // the thread's scratch, then the head's y columns are copied out.
                    let per = self.scan_per_thread;
                    let scratch = Shared::new(&mut self.scan_scratch);
                    let (xs, dts, bs, cs) =
                        (ins.span(&x), ins.span(&dt), ins.span(&b), ins.span(&c));
                    pool.run(&|idx, nt| {
                        let hr = split_range(heads, 1, idx, nt);
                        if hr.is_empty() {
                            return;
                        }
                        // SAFETY: one scratch range per thread index.
                        let sc = unsafe { scratch.get(idx * per..(idx + 1) * per) };
                        let (yh, sc) = sc.split_at_mut(rows * p);
                        for h in hr {
                            let grp = h / (heads / groups);
                            // SAFETY: head ranges of different threads are disjoint.
                            let st = unsafe { ss.get(h * p * ns..(h + 1) * p * ns) };
                            let head = ssm::Mamba2Head {
                                x: view(xs, h * p, &x),
                                dt: view(dts, h, &dt),
                                b: view(bs, grp * ns, &b),
                                c: view(cs, grp * ns, &c),
                                a: a[h],
                                d: d[h],
                                p,
                                t: rows,
                            };
                            ssm::ssm_scan_mamba2_head(st, head, sc, yh);
                            for r in 0..rows {
                                let yr = y.row(r, n).start - y0;
                                // SAFETY: as above (the head's columns of every row).
                                let yr = unsafe { ys.get(yr + h * p..yr + (h + 1) * p) };
                                yr.copy_from_slice(&yh[r * p..(r + 1) * p]);
                            }
                        }
                    });
                    return;
                }
                pool.run(&|idx, nt| {
                    let hr = split_range(heads, 1, idx, nt);
                    if hr.is_empty() {
                        return;
                    }
                    for r in 0..rows {
                        // SAFETY: head ranges of different threads are disjoint.
                        let st = unsafe { ss.get(hr.start * p * ns..hr.end * p * ns) };
                        let (xr, dtr, br, cr) = (
                            &ins.row(&x, r)[hr.start * p..hr.end * p],
                            &ins.row(&dt, r)[hr.clone()],
                            ins.row(&b, r),
                            ins.row(&c, r),
                        );
                        let yr = y.row(r, n).start - y0;
                        // SAFETY: as above.
                        let yr = unsafe { ys.get(yr + hr.start * p..yr + hr.end * p) };
                        let (ar, dr) = (&a[hr.clone()], &d[hr.clone()]);
                        ssm::ssm_step_mamba2_heads(
                            st,
                            xr,
                            dtr,
                            ar,
                            br,
                            cr,
                            dr,
                            dims,
                            hr.clone(),
                            yr,
                        );
                    }
                });
            }
            Op::SiluMul { gate, up, y } => {
                for r in 0..rows {
                    act::silu_mul(ins.row(&gate, r), ins.row(&up, r), out.row(&y, r));
                }
            }
            Op::GeluMul { gate, up, y } => {
                for r in 0..rows {
                    act::gelu_mul(ins.row(&gate, r), ins.row(&up, r), out.row(&y, r));
                }
            }
            Op::Rope {
                x,
                heads,
                head_dim,
                theta,
                layout,
            } => {
                let mode = match layout {
                    RopeLayout::Neox => rope::RopeMode::Neox,
                    RopeLayout::Adjacent => rope::RopeMode::Normal,
                };
                // The frequencies once per op (a `pow` each), not once per row.
                let mut freqs = [0.0f32; 256];
                if rows > 1 && head_dim.is_multiple_of(2) && head_dim / 2 <= freqs.len() {
                    let f = &mut freqs[..head_dim / 2];
                    for (i, v) in f.iter_mut().enumerate() {
                        *v = rope::rope_inv_freq(i, head_dim, theta);
                    }
                    for r in 0..rows {
                        let p = pos(&x, r) as u32;
                        rope::rope_with_freqs(out.row(&x, r), heads, head_dim, f, p, mode);
                    }
                } else {
                    for r in 0..rows {
                        let p = pos(&x, r) as u32;
                        rope::rope_inplace(
                            out.row(&x, r),
                            heads,
                            head_dim,
                            head_dim,
                            p,
                            theta,
                            mode,
                        );
                    }
                }
            }
            Op::Attend {
                q,
                k,
                v,
                y,
                kv,
                heads,
                kv_heads,
                head_dim,
                scale,
            } => {
                let ring = &mut st.kv[kv];
                let rep = heads / kv_heads;
                let blocked = rows > 1
                    && rep <= MAX_QUERIES
                    && attn_block::has_simd(head_dim)
                    && [q, k, v, y].iter().all(|b| b.rows == Rows::All)
                    && k.stride == v.stride;
                if blocked {
                    // Blocks of consecutive rows × one KV head attend to the ring as it is
                    // (positions before this chunk) and to the chunk's own rows, each row
                    // seeing what the ring would hold at its position; the rows go into the
                    // ring afterwards (they may overwrite slots earlier rows still see).
                    let p0 = pos(&q, 0);
                    let width = ring.width();
                    let (k0, v0) = (k.row(0, n).start, v.row(0, n).start);
                    let (ks, vs) = (ins.span(&k), ins.span(&v));
                    let chunk = match ring.kv_type() {
                        KvType::F32 => Source {
                            kv: KvRows::F32 {
                                keys: ks,
                                values: vs,
                            },
                            stride: k.stride,
                            positions: Positions::Consecutive {
                                start: p0 as u64,
                                len: rows,
                            },
                        },
                        KvType::F16 => {
                            // Rounded by the ring's own store, so the chunk sees exactly what
                            // decode would.
                            let (kh, vh) = self.chunk_f16.split_at_mut(self.rows * width);
                            for r in 0..rows {
                                let (kr, vr) = (k.row(r, n), v.row(r, n));
                                let dst = r * width..(r + 1) * width;
                                f16::store(&mut kh[dst.clone()], &ks[kr.start - k0..kr.end - k0]);
                                f16::store(&mut vh[dst], &vs[vr.start - v0..vr.end - v0]);
                            }
                            Source {
                                kv: KvRows::F16 {
                                    keys: &kh[..rows * width],
                                    values: &vh[..rows * width],
                                },
                                stride: width,
                                positions: Positions::Consecutive {
                                    start: p0 as u64,
                                    len: rows,
                                },
                            }
                        }
                    };
                    let sources = [
                        Source {
                            kv: ring.rows(),
                            stride: width,
                            positions: Positions::Listed(ring.positions()),
                        },
                        chunk,
                    ];
                    let vis = Visibility {
                        newest: p0 as u64,
                        sinks: ring.sinks() as u64,
                        window: ring.window() as u64,
                    };
                    let per_row = MAX_QUERIES / rep;
                    let blocks = rows.div_ceil(per_row);
                    let (qs, q0, y0) = (ins.span(&q), q.row(0, n).start, y.row(0, n).start);
                    let ys = Shared::new(out.span(&y));
                    let bs = Shared::new(&mut self.block_scratch);
                    let per = self.block_per;
                    pool.run(&|idx, nt| {
                        // SAFETY: one scratch range per thread.
                        let sc = unsafe { bs.get(idx * per..(idx + 1) * per) };
                        let (sc, ob) = sc.split_at_mut(block_scratch_len(head_dim));
                        for item in (idx..blocks * kv_heads).step_by(nt) {
                            let (b, j) = (item / kv_heads, item % kv_heads);
                            let r0 = b * per_row;
                            let nr = per_row.min(rows - r0);
                            let g = BlockGeom {
                                hd: head_dim,
                                rep,
                                kv_head: j,
                                scale,
                            };
                            let vis = Visibility {
                                newest: vis.newest + r0 as u64,
                                ..vis
                            };
                            let qb = &qs[q.row(r0, n).start - q0 + j * rep * head_dim..];
                            let ob = &mut ob[..nr * rep * head_dim];
                            attn_block::attend_block(&sources, &vis, &g, qb, q.stride, nr, sc, ob);
                            for (i, o) in ob.chunks_exact(rep * head_dim).enumerate() {
                                let yr = y.row(r0 + i, n).start - y0 + j * rep * head_dim;
                                // SAFETY: (row, KV head) pairs of different items are disjoint.
                                unsafe { ys.get(yr..yr + o.len()) }.copy_from_slice(o);
                            }
                        }
                    });
                    for r in 0..rows {
                        ring.append(pos(&q, r), ins.row(&k, r), ins.row(&v, r));
                    }
                    return;
                }
                let (per, sc) = (self.slots, Shared::new(&mut self.scores));
                for r in 0..rows {
                    ring.append(pos(&q, r), ins.row(&k, r), ins.row(&v, r));
                    let (kv, slots) = (ring.rows(), ring.filled());
                    let (qr, yr) = (ins.row(&q, r), Shared::new(out.row(&y, r)));
                    // Query heads split across threads, whole kv groups per thread.
                    let group = heads / kv_heads;
                    pool.run(&|idx, nt| {
                        let hr = split_range(heads, group, idx, nt);
                        if hr.is_empty() {
                            return;
                        }
                        // SAFETY: head ranges and score buffers of threads are disjoint.
                        let (yh, scratch) = unsafe {
                            (
                                yr.get(hr.start * head_dim..hr.end * head_dim),
                                sc.get(idx * per..(idx + 1) * per),
                            )
                        };
                        kv.attend_heads(
                            qr, slots, heads, kv_heads, head_dim, scale, scratch, hr, yh,
                        );
                    });
                }
            }
            Op::MoeRoute { logits, route, k } => {
                let (ids, ws) = (&mut self.expert_ids[..k], &mut self.expert_weights[..k]);
                for r in 0..rows {
                    moe::top_k_softmax_no_renorm(ins.row(&logits, r), k, &mut self.probs, ids, ws);
                    let o = out.row(&route, r);
                    o[..k].copy_from_slice(ws);
                    o[k..]
                        .iter_mut()
                        .zip(ids.iter())
                        .for_each(|(o, &e)| *o = e as f32);
                }
            }
            Op::ScaleAdd {
                acc,
                x,
                route,
                slot,
            } => {
                for r in 0..rows {
                    let w = ins.row(&route, r)[slot];
                    out.row(&acc, r)
                        .iter_mut()
                        .zip(ins.row(&x, r))
                        .for_each(|(a, x)| *a += w * x);
                }
            }
            Op::Add { a, b, y } => {
                for r in 0..rows {
                    let (ar, br) = (ins.row(&a, r), ins.row(&b, r));
                    out.row(&y, r)
                        .iter_mut()
                        .zip(ar.iter().zip(br))
                        .for_each(|(y, (a, b))| *y = a + b);
                }
            }
            Op::AddInPlace { acc, x } => {
                for r in 0..rows {
                    out.row(&acc, r)
                        .iter_mut()
                        .zip(ins.row(&x, r))
                        .for_each(|(a, x)| *a += x);
                }
            }
            Op::Copy { x, y } => {
                for r in 0..rows {
                    out.row(&y, r).copy_from_slice(ins.row(&x, r));
                }
            }
            Op::Zero { y } => {
                for r in 0..rows {
                    out.row(&y, r).fill(0.0);
                }
            }
        }
    }
}

/// The rows of `b` (its arena span `v`) from column `off` on.
fn view<'a>(v: &'a [f32], off: usize, b: &Buf) -> ssm::Strided<'a> {
    ssm::Strided {
        data: &v[off..],
        stride: b.stride,
    }
}

/// Whether `w` takes f32 activations (int8 activations off, or a type without int8 kernels).
fn q8_off(q8: SharedQ8, w: &WeightView) -> bool {
    q8.len == 0 || !matvec_q8::supports(w.ty)
}

/// `y = W·x` for one token, output rows split across the pool for large matrices.
fn matvec_par(pool: &ThreadPool, q8: SharedQ8, w: &WeightView, x: &[f32], y: &mut [f32]) {
    let par = pool.n_threads() > 1 && w.data.len() >= PAR_MIN_BYTES;
    if q8_off(q8, w) {
        if par {
            pool.run_chunks(y, 4, &|r, c| matvec::matvec_rows(w, x, c, r));
        } else {
            matvec::matvec(w, x, y);
        }
        return;
    }
    // SAFETY: buffer 0 is the calling thread's; workers only read it below.
    let qa = unsafe { q8.get(0) };
    qa.quantize(x, w.cols);
    let qa = &*qa;
    if par {
        pool.run_chunks(y, 4, &|r, c| matvec_q8::matvec_q8_rows(w, qa, c, r));
    } else {
        matvec_q8::matvec_q8(w, qa, y);
    }
}

/// The arena outside the op's output, read-only.
struct Inputs<'a> {
    before: &'a [f32],
    after: &'a [f32],
    after_start: usize,
    n: usize,
}

impl Inputs<'_> {
    fn get(&self, r: Range<usize>) -> &[f32] {
        if r.end <= self.before.len() {
            &self.before[r]
        } else {
            &self.after[r.start - self.after_start..r.end - self.after_start]
        }
    }

    fn row(&self, b: &Buf, r: usize) -> &[f32] {
        self.get(b.row(r, self.n))
    }

    fn span(&self, b: &Buf) -> &[f32] {
        self.get(b.span(self.n))
    }
}

/// The op's output buffer.
struct Output<'a> {
    slice: &'a mut [f32],
    base: usize,
    n: usize,
}

impl Output<'_> {
    fn row(&mut self, b: &Buf, r: usize) -> &mut [f32] {
        let range = b.row(r, self.n);
        &mut self.slice[range.start - self.base..range.end - self.base]
    }

    fn span(&mut self, b: &Buf) -> &mut [f32] {
        let range = b.span(self.n);
        &mut self.slice[range.start - self.base..range.end - self.base]
    }
}
