//! Typed builders: one function per operation. Each checks shapes (typed errors, before any GPU
//! object exists), packs the kernel's parameters and queues its dispatches on a [`Recorder`].
//! Views are arena ranges in f32 elements; vectors and state are [`Bind`]ings.

use super::dispatch::grid;
use super::repack::GpuType;
use super::shader::Kernel;
use super::{Bind, GpuError, GpuMatrix, Recorder, Rows, View, ensure};

const WG: usize = 256;

fn tokens(r: &Recorder, v: &View) -> usize {
    if v.rows == Rows::All { r.max_rows } else { 1 }
}

fn same_rows(what: &str, a: &View, b: &View) -> Result<(), GpuError> {
    ensure!(
        (a.rows == Rows::All) == (b.rows == Rows::All),
        "{what}: one view is per-token, the other single-row"
    );
    Ok(())
}

fn floats(what: &str, b: &Bind, len: usize) -> Result<(), GpuError> {
    ensure!(
        b.floats() >= len,
        "{what}: {} floats bound, {len} needed",
        b.floats()
    );
    Ok(())
}

fn rows_per_wg(r: &Recorder) -> usize {
    WG / r.ctx.tier.row_lanes() as usize
}

/// Rows per workgroup of matvec1.wgsl (its RPW: 8 lane groups × 2 rows, or × 1 with MR1).
const MATVEC1_ROWS: usize = 16;

/// Shards of fewer rows take matvec1's MR1 variant (8 rows per workgroup): a 2560-row matrix
/// then spreads over 320 workgroups instead of 160 (H100, zamba2-2.7b out_proj: 636 GB/s with
/// two rows per lane group).
const MATVEC1_FEW_ROWS: usize = 4096;

fn w3(v: &View) -> [u32; 3] {
    v.words()
}

/// y (+)= W·x for every token row (`accumulate`: add to y).
pub fn matvec(
    r: &mut Recorder,
    w: &GpuMatrix,
    x: View,
    y: View,
    accumulate: bool,
) -> Result<(), GpuError> {
    ensure!(
        w.experts == 1,
        "matvec over a stack of {} experts",
        w.experts
    );
    matvec_impl(
        r,
        w,
        x,
        y,
        accumulate,
        None,
        None,
        None,
        &Epilogue::default(),
    )
}

/// y = W[e]·x where e is the expert in `slot` of the row's route `[w_0..w_{k-1}, e_0..e_{k-1}]`.
pub fn expert_matvec(
    r: &mut Recorder,
    w: &GpuMatrix,
    x: View,
    y: View,
    route: View,
    k: usize,
    slot: usize,
) -> Result<(), GpuError> {
    ensure!(slot < k, "expert slot {slot} of {k}");
    r.check_view("route", &route, 2 * k)?;
    same_rows("expert matvec route", &x, &route)?;
    matvec_impl(
        r,
        w,
        x,
        y,
        false,
        Some((route, k, slot)),
        None,
        None,
        &Epilogue::default(),
    )
}

/// The normalisation fused in front of a matvec: x̂ = w ⊙ u / sqrt(mean(u²) + eps) with u = x
/// (RMSNorm) or u = x ⊙ silu(z) (gated RMSNorm with one group); `out`, if any, receives x̂ as
/// well (for later readers of the norm's output).
#[derive(Clone, Debug)]
pub struct FusedNorm {
    pub z: Option<View>,
    pub w: Option<Bind>,
    pub eps: f32,
    pub out: Option<View>,
}

/// The epilogue fused behind a matvec: `softplus` = (first row, rows, bias, min): those rows of
/// y become max(softplus(y + bias), min); `add` = (a, o): o = a + y; `conv`: a causal conv
/// step of some rows (one-token Q8_0 / Q4_0 matvecs only).
#[derive(Clone, Debug, Default)]
pub struct Epilogue {
    pub softplus: Option<(usize, usize, Option<Bind>, Option<f32>)>,
    pub add: Option<(View, View)>,
    pub conv: Option<ConvEpilogue>,
}

/// [`conv1d_silu`]'s one-token step on rows `lo .. lo + y.width` of a matvec's output (channel
/// c = row − lo), written to `y`; `state` is `[channels, k]`, `w` likewise, `b` `[channels]`.
/// Needs an adapter with 7 storage buffers per kernel ([`GpuContext::storage_buffers`]).
///
/// [`GpuContext::storage_buffers`]: super::GpuContext::storage_buffers
#[derive(Clone, Debug)]
pub struct ConvEpilogue {
    pub lo: usize,
    pub y: View,
    pub state: Bind,
    pub w: Bind,
    pub b: Option<Bind>,
    pub k: usize,
}

/// `y = W·norm(x)` and the epilogue, in one dispatch per shard (see [`FusedNorm`], [`Epilogue`]).
pub fn matvec_fused(
    r: &mut Recorder,
    w: &GpuMatrix,
    x: View,
    y: View,
    norm: Option<&FusedNorm>,
    epi: &Epilogue,
) -> Result<(), GpuError> {
    check_fused(r, w, &y, epi)?;
    if let Some(n) = norm {
        if let Some(out) = &n.out {
            r.check_view("fused norm out", out, w.cols)?;
            same_rows("fused norm", &x, out)?;
        }
        if let Some(z) = &n.z {
            r.check_view("fused norm z", z, w.cols)?;
            same_rows("fused norm z", &x, z)?;
        }
        if let Some(b) = &n.w {
            floats("fused norm weight", b, w.cols)?;
        }
    }
    matvec_impl(r, w, x, y, false, None, norm, None, epi)
}

/// The GLU product fused in front of a one-token matvec: x̂ = up ⊙ act(gate), act = SiLU or
/// GELU (`glu`'s op, whose output then never exists).
#[derive(Clone, Debug)]
pub struct GluIn {
    pub gate: View,
    pub act: Glu,
}

/// `y = W·(up ⊙ act(gate))` and the epilogue in one dispatch per shard: only the one-token
/// Q8_0 / Q4_0 matvec (matvec1.wgsl's GATED without NORM).
pub fn matvec_glu(
    r: &mut Recorder,
    w: &GpuMatrix,
    up: View,
    glu: &GluIn,
    y: View,
    epi: &Epilogue,
) -> Result<(), GpuError> {
    r.check_view("glu gate", &glu.gate, w.cols)?;
    same_rows("glu gate", &up, &glu.gate)?;
    ensure!(
        epi.conv.is_none() && epi.softplus.is_none(),
        "a GLU matvec takes only the residual-add epilogue"
    );
    check_fused(r, w, &y, epi)?;
    matvec_impl(r, w, up, y, false, None, None, Some(glu), epi)
}

/// The checks every fused matvec shares: one matrix (no expert stack) and the epilogue's
/// views and bindings against `w`'s shape and `y`'s rows.
fn check_fused(r: &Recorder, w: &GpuMatrix, y: &View, epi: &Epilogue) -> Result<(), GpuError> {
    ensure!(
        w.experts == 1,
        "matvec over a stack of {} experts",
        w.experts
    );
    if let Some((lo, len, b, _)) = &epi.softplus {
        ensure!(lo + len <= w.rows, "softplus rows {lo}+{len} of {}", w.rows);
        if let Some(b) = b {
            floats("softplus bias", b, *len)?;
        }
    }
    if let Some((a, o)) = &epi.add {
        r.check_view("matvec add a", a, w.rows)?;
        r.check_view("matvec add out", o, w.rows)?;
        same_rows("matvec add", y, a)?;
        same_rows("matvec add", y, o)?;
    }
    if let Some(c) = &epi.conv {
        let ch = c.y.width;
        ensure!(c.lo + ch <= w.rows, "conv rows {}+{ch} of {}", c.lo, w.rows);
        r.check_view("fused conv y", &c.y, ch)?;
        ensure!(
            (1..=8).contains(&c.k),
            "conv: kernel width {} (1..=8 supported)",
            c.k
        );
        floats("conv state", &c.state, ch * c.k)?;
        floats("conv weight", &c.w, ch * c.k)?;
        if let Some(b) = &c.b {
            floats("conv bias", b, ch)?;
        }
        ensure!(
            r.ctx.storage_buffers() >= 7,
            "a fused conv needs 7 storage buffers per kernel, the adapter has {}",
            r.ctx.storage_buffers()
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn matvec_impl(
    r: &mut Recorder,
    w: &GpuMatrix,
    x: View,
    y: View,
    accumulate: bool,
    route: Option<(View, usize, usize)>,
    norm: Option<&FusedNorm>,
    glu: Option<&GluIn>,
    epi: &Epilogue,
) -> Result<(), GpuError> {
    r.check_view("matvec x", &x, w.cols)?;
    r.check_view("matvec y", &y, w.rows)?;
    same_rows("matvec", &x, &y)?;
    let ty = w.ty.define();
    // One token per workgroup where a run has one row (decode lists), else 8 (TT in matvec.wgsl).
    let one = tokens(r, &x) == 1;
    // A one-token quantized matvec has a kernel of its own (x̂ staged once per workgroup).
    let staged = one && route.is_none() && matches!(w.ty, GpuType::Q8_0 | GpuType::Q4_0);
    ensure!(
        staged || (epi.conv.is_none() && glu.is_none()),
        "a fused conv or GLU needs the one-token Q8_0 / Q4_0 matvec"
    );
    let kernel = if staged {
        Kernel::MatVec1
    } else {
        Kernel::MatVec
    };
    let mut defines: Vec<&'static str> = vec![ty];
    match (&route, norm) {
        (Some(_), _) => defines.push("EXPERT"),
        (None, Some(FusedNorm { z: Some(_), .. })) => defines.extend(["NORM", "GATED"]),
        (None, Some(_)) => defines.push("NORM"),
        (None, None) => {}
    }
    if let Some(g) = glu {
        ensure!(
            norm.is_none(),
            "a GLU prologue and a norm prologue together"
        );
        defines.push("GATED");
        if g.act == Glu::Gelu {
            defines.push("GELU");
        }
    }
    if one && route.is_none() && !staged {
        defines.push("T1");
    }
    let tt = if route.is_some() || one { 1 } else { 8 };
    let (rv, k, slot) = route.unwrap_or((View::one(0, 0), 0, 0));
    let none = View::one(0, 0);
    let z = norm.and_then(|n| n.z.as_ref()).or(glu.map(|g| &g.gate));
    let [zo, zs, zm] = w3(z.unwrap_or(&none));
    let n_out = norm.and_then(|n| n.out.as_ref());
    let [no, ns, nm] = w3(n_out.unwrap_or(&none));
    let nw = norm.and_then(|n| n.w.clone());
    let eps = norm.map_or(0.0, |n| n.eps);
    let (sp_lo, sp_len, sp_b, sp_min) = epi.softplus.clone().unwrap_or((0, 0, None, None));
    let sp_on = epi.softplus.is_some();
    let (a, o) = epi.add.unwrap_or((none, none));
    let [ao, as_, am] = w3(&a);
    let [oo, os, om] = w3(&o);
    let conv = epi.conv.as_ref();
    let [cyo, cys, cym] = w3(conv.map_or(&none, |c| &c.y));
    let (cv_lo, cv_hi) = conv.map_or((0, 0), |c| (c.lo, c.lo + c.y.width));
    for s in &w.shards {
        let few = staged && s.rows.len() < MATVEC1_FEW_ROWS;
        let rpw = match (staged, few) {
            (false, _) => rows_per_wg(r),
            (true, false) => MATVEC1_ROWS,
            (true, true) => MATVEC1_ROWS / 2,
        };
        let mut defines = defines.clone();
        if few {
            defines.push("MR1");
        }
        let [xo, xs, xm] = w3(&x);
        let [yo, ys, ym] = w3(&y);
        let [ro, rs, rm] = w3(&rv);
        let p = [
            xo,
            xs,
            xm,
            s.rows.len() as u32,
            yo,
            ys,
            ym,
            w.cols as u32,
            s.rows.start as u32,
            s.scale_off,
            accumulate as u32,
            s.experts.start as u32,
            ro,
            rs,
            rm,
            k as u32,
            slot as u32,
            s.experts.len() as u32,
            nw.is_some() as u32,
            eps.to_bits(),
            zo,
            zs,
            zm,
            sp_on as u32,
            no,
            ns,
            nm,
            epi.add.is_some() as u32,
            ao,
            as_,
            am,
            sp_lo as u32,
            oo,
            os,
            om,
            (sp_lo + sp_len) as u32,
            sp_min.is_some() as u32,
            sp_min.unwrap_or(0.0).to_bits(),
            n_out.is_some() as u32,
            0,
            cv_lo as u32,
            cv_hi as u32,
            conv.map_or(0, |c| c.k as u32),
            conv.is_some_and(|c| c.b.is_some()) as u32,
            cyo,
            cys,
            cym,
            0,
        ];
        let g = grid(s.rows.len().div_ceil(rpw), tokens(r, &x).div_ceil(tt));
        let mut binds = vec![
            Bind::whole(&s.buffer),
            nw.clone().unwrap_or_else(|| r.dummy()),
            sp_b.clone().unwrap_or_else(|| r.dummy()),
        ];
        if let Some(c) = conv {
            defines.push("CONV");
            binds.extend([
                c.state.clone(),
                c.w.clone(),
                c.b.clone().unwrap_or_else(|| r.dummy()),
            ]);
        }
        r.push(kernel, &defines, &p, binds, g)?;
    }
    Ok(())
}

/// LoRA / low-rank adapter: tmp = A·x, then y += B·tmp (two matvecs).
pub fn lora(
    r: &mut Recorder,
    a: &GpuMatrix,
    b: &GpuMatrix,
    x: View,
    tmp: View,
    y: View,
) -> Result<(), GpuError> {
    matvec(r, a, x, tmp, false)?;
    matvec(r, b, tmp, y, true)
}

/// out[t] = table[tokens[tok_off + t]] (embedding lookup; ids are checked by the caller).
pub fn embed(
    r: &mut Recorder,
    table: &GpuMatrix,
    ids: &Bind,
    tok_off: usize,
    out: View,
) -> Result<(), GpuError> {
    ensure!(table.experts == 1, "embedding table with experts");
    r.check_view("embed out", &out, table.cols)?;
    ensure!(
        ids.floats() >= tok_off + tokens(r, &out),
        "embed: token buffer too small"
    );
    for s in &table.shards {
        let [o, st, m] = w3(&out);
        let p = [
            o,
            st,
            m,
            table.cols as u32,
            s.rows.start as u32,
            s.rows.len() as u32,
            s.scale_off,
            tok_off as u32,
        ];
        let g = grid(table.cols.div_ceil(WG), tokens(r, &out));
        r.push(
            Kernel::Embed,
            &[table.ty.define()],
            &p,
            vec![Bind::whole(&s.buffer), ids.clone()],
            g,
        )?;
    }
    Ok(())
}

/// y = w ⊙ x / rms(x) (no weight: plain normalisation).
pub fn rms_norm(
    r: &mut Recorder,
    x: View,
    y: View,
    w: Option<&Bind>,
    eps: f32,
) -> Result<(), GpuError> {
    let len = x.width;
    r.check_view("rms_norm y", &y, len)?;
    r.check_view("rms_norm x", &x, len)?;
    same_rows("rms_norm", &x, &y)?;
    if let Some(w) = w {
        floats("rms_norm weight", w, len)?;
    }
    let [xo, xs, xm] = w3(&x);
    let [yo, ys, ym] = w3(&y);
    let p = [
        xo,
        xs,
        xm,
        len as u32,
        yo,
        ys,
        ym,
        w.is_some() as u32,
        eps.to_bits(),
        0,
        0,
        0,
    ];
    let w = w.cloned().unwrap_or_else(|| r.dummy());
    let g = grid(tokens(r, &y), 1);
    r.push(Kernel::RmsNorm, &[], &p, vec![w], g)
}

/// y = w ⊙ groupnorm(x ⊙ silu(z)) over groups of `group` floats.
pub fn gated_rms_norm(
    r: &mut Recorder,
    x: View,
    z: View,
    y: View,
    w: &Bind,
    group: usize,
    eps: f32,
) -> Result<(), GpuError> {
    let len = x.width;
    r.check_view("gated_rms_norm x", &x, len)?;
    r.check_view("gated_rms_norm z", &z, len)?;
    r.check_view("gated_rms_norm y", &y, len)?;
    same_rows("gated_rms_norm", &x, &y)?;
    ensure!(
        group > 0 && len.is_multiple_of(group),
        "gated_rms_norm: {len} not in groups of {group}"
    );
    floats("gated_rms_norm weight", w, len)?;
    let [xo, xs, xm] = w3(&x);
    let [zo, zs, zm] = w3(&z);
    let [yo, ys, ym] = w3(&y);
    let p = [
        xo,
        xs,
        xm,
        len as u32,
        zo,
        zs,
        zm,
        group as u32,
        yo,
        ys,
        ym,
        eps.to_bits(),
    ];
    let g = grid(tokens(r, &y) * (len / group), 1);
    r.push(Kernel::GatedRmsNorm, &[], &p, vec![w.clone()], g)
}

/// Depthwise causal conv step + SiLU over the rows in order; `state` is `[channels, k]`.
pub fn conv1d_silu(
    r: &mut Recorder,
    x: View,
    y: View,
    state: &Bind,
    w: &Bind,
    b: Option<&Bind>,
    k: usize,
) -> Result<(), GpuError> {
    let c = x.width;
    r.check_view("conv y", &y, c)?;
    r.check_view("conv x", &x, c)?;
    same_rows("conv", &x, &y)?;
    ensure!(
        (1..=8).contains(&k),
        "conv: kernel width {k} (1..=8 supported)"
    );
    floats("conv state", state, c * k)?;
    floats("conv weight", w, c * k)?;
    if let Some(b) = b {
        floats("conv bias", b, c)?;
    }
    let [xo, xs, xm] = w3(&x);
    let [yo, ys, ym] = w3(&y);
    let p = [
        xo,
        xs,
        xm,
        c as u32,
        yo,
        ys,
        ym,
        k as u32,
        b.is_some() as u32,
        0,
        0,
        0,
    ];
    let b = b.cloned().unwrap_or_else(|| r.dummy());
    let g = grid(c.div_ceil(WG), 1);
    r.push(
        Kernel::Conv1dSilu,
        &[],
        &p,
        vec![state.clone(), w.clone(), b],
        g,
    )
}

/// In place: x = max(softplus(x + bias), min).
pub fn softplus(
    r: &mut Recorder,
    x: View,
    bias: Option<&Bind>,
    min: Option<f32>,
) -> Result<(), GpuError> {
    let len = x.width;
    r.check_view("softplus x", &x, len)?;
    if let Some(b) = bias {
        floats("softplus bias", b, len)?;
    }
    let [xo, xs, xm] = w3(&x);
    let p = [
        xo,
        xs,
        xm,
        len as u32,
        bias.is_some() as u32,
        min.is_some() as u32,
        min.unwrap_or(0.0).to_bits(),
        0,
    ];
    let b = bias.cloned().unwrap_or_else(|| r.dummy());
    let g = grid(len.div_ceil(WG), tokens(r, &x));
    r.push(Kernel::Softplus, &[], &p, vec![b], g)
}

/// Arena views of a selective scan: x, dt, B, C in; y out.
#[derive(Clone, Copy, Debug)]
pub struct ScanViews {
    pub x: View,
    pub dt: View,
    pub b: View,
    pub c: View,
    pub y: View,
}

fn scan_words(v: &ScanViews, extra: [u32; 4]) -> [u32; 20] {
    let mut p = [0u32; 20];
    for (i, view) in [v.x, v.dt, v.b, v.c, v.y].iter().enumerate() {
        p[4 * i..4 * i + 3].copy_from_slice(&view.words());
        p[4 * i + 3] = extra.get(i).copied().unwrap_or(0);
    }
    p
}

/// Mamba-1 scan: state `[I, N]`, a `[I, N]` (= −exp(A_log)), d `[I]`.
pub fn ssm_scan1(
    r: &mut Recorder,
    v: ScanViews,
    state: &Bind,
    a: &Bind,
    d: &Bind,
) -> Result<(), GpuError> {
    let (i, n) = (v.x.width, v.b.width);
    r.check_view("scan1 x", &v.x, i)?;
    r.check_view("scan1 dt", &v.dt, i)?;
    r.check_view("scan1 b", &v.b, n)?;
    r.check_view("scan1 c", &v.c, n)?;
    r.check_view("scan1 y", &v.y, i)?;
    same_rows("scan1", &v.x, &v.y)?;
    floats("scan1 state", state, i * n)?;
    floats("scan1 A", a, i * n)?;
    floats("scan1 D", d, i)?;
    let p = scan_words(&v, [i as u32, n as u32, 0, 0]);
    let g = grid(i.div_ceil(WG), 1);
    r.push(
        Kernel::SsmScan1,
        &[],
        &p,
        vec![state.clone(), a.clone(), d.clone()],
        g,
    )
}

/// Mamba-2 scan: state `[heads, P, N]`, a and d `[heads]`; B and C `[groups·N]`.
pub fn ssm_scan2(
    r: &mut Recorder,
    v: ScanViews,
    state: &Bind,
    a: &Bind,
    d: &Bind,
    heads: usize,
    groups: usize,
) -> Result<(), GpuError> {
    ensure!(
        heads > 0 && groups > 0 && heads.is_multiple_of(groups),
        "scan2: {heads} heads in {groups} groups"
    );
    let inner = v.x.width;
    ensure!(
        inner.is_multiple_of(heads),
        "scan2: width {inner} not {heads} heads"
    );
    ensure!(
        v.b.width.is_multiple_of(groups),
        "scan2: B width {} not {groups} groups",
        v.b.width
    );
    let (pdim, n) = (inner / heads, v.b.width / groups);
    r.check_view("scan2 x", &v.x, inner)?;
    r.check_view("scan2 dt", &v.dt, heads)?;
    r.check_view("scan2 b", &v.b, groups * n)?;
    r.check_view("scan2 c", &v.c, groups * n)?;
    r.check_view("scan2 y", &v.y, inner)?;
    same_rows("scan2", &v.x, &v.y)?;
    floats("scan2 state", state, inner * n)?;
    floats("scan2 A", a, heads)?;
    floats("scan2 D", d, heads)?;
    let p = scan_words(&v, [heads as u32, pdim as u32, n as u32, groups as u32]);
    let g = grid(inner.div_ceil(rows_per_wg(r)), 1);
    r.push(
        Kernel::SsmScan2,
        &[],
        &p,
        vec![state.clone(), a.clone(), d.clone()],
        g,
    )
}

/// Gated-MLP activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Glu {
    Silu,
    Gelu,
}

/// y = act(gate) ⊙ up.
pub fn glu(r: &mut Recorder, act: Glu, gate: View, up: View, y: View) -> Result<(), GpuError> {
    let len = y.width;
    r.check_view("glu gate", &gate, len)?;
    r.check_view("glu up", &up, len)?;
    r.check_view("glu y", &y, len)?;
    let [go, gs, gm] = w3(&gate);
    let [uo, us, um] = w3(&up);
    let [yo, ys, ym] = w3(&y);
    let p = [go, gs, gm, len as u32, uo, us, um, 0, yo, ys, ym, 0];
    let def = match act {
        Glu::Silu => "SILU",
        Glu::Gelu => "GELU",
    };
    let g = grid(len.div_ceil(WG), tokens(r, &y));
    r.push(Kernel::Glu, &[def], &p, vec![], g)
}

/// y = a + b (a may be y itself: acc += x).
pub fn add(r: &mut Recorder, a: View, b: View, y: View) -> Result<(), GpuError> {
    add_impl(r, a, b, y, None)
}

/// acc += w_slot · x with the route weight of `slot`.
pub fn scale_add(
    r: &mut Recorder,
    acc: View,
    x: View,
    route: View,
    k: usize,
    slot: usize,
) -> Result<(), GpuError> {
    ensure!(slot < k, "scale_add slot {slot} of {k}");
    r.check_view("scale_add route", &route, 2 * k)?;
    add_impl(r, acc, x, acc, Some((route, k, slot)))
}

fn add_impl(
    r: &mut Recorder,
    a: View,
    b: View,
    y: View,
    route: Option<(View, usize, usize)>,
) -> Result<(), GpuError> {
    let len = y.width;
    r.check_view("add a", &a, len)?;
    r.check_view("add b", &b, len)?;
    r.check_view("add y", &y, len)?;
    let (rv, k, slot) = route.unwrap_or((View::one(0, 0), 0, 0));
    let [ao, as_, am] = w3(&a);
    let [bo, bs, bm] = w3(&b);
    let [yo, ys, ym] = w3(&y);
    let [ro, rs, rm] = w3(&rv);
    let p = [
        ao,
        as_,
        am,
        len as u32,
        bo,
        bs,
        bm,
        k as u32,
        yo,
        ys,
        ym,
        slot as u32,
        ro,
        rs,
        rm,
        0,
    ];
    let g = grid(len.div_ceil(WG), tokens(r, &y));
    r.push(Kernel::Add, &[], &p, vec![], g)
}

/// y += b.
pub fn add_bias(r: &mut Recorder, y: View, b: &Bind) -> Result<(), GpuError> {
    let len = y.width;
    r.check_view("add_bias y", &y, len)?;
    floats("bias", b, len)?;
    let [yo, ys, ym] = w3(&y);
    let g = grid(len.div_ceil(WG), tokens(r, &y));
    r.push(
        Kernel::AddBias,
        &[],
        &[yo, ys, ym, len as u32],
        vec![b.clone()],
        g,
    )
}

/// y = x.
pub fn copy(r: &mut Recorder, x: View, y: View) -> Result<(), GpuError> {
    r.check_view("copy x", &x, y.width)?;
    copy_impl(r, [(x, y), (y, y)], 1, false)
}

/// y = x and y2 = x2 in one dispatch: for two copies the caller knows to be independent
/// (neither reads what the other writes), e.g. the two halves of a concatenation.
pub fn copy2(r: &mut Recorder, a: (View, View), b: (View, View)) -> Result<(), GpuError> {
    r.check_view("copy x", &a.0, a.1.width)?;
    r.check_view("copy x", &b.0, b.1.width)?;
    copy_impl(r, [a, b], 2, false)
}

/// y = 0.
pub fn zero(r: &mut Recorder, y: View) -> Result<(), GpuError> {
    copy_impl(r, [(y, y), (y, y)], 1, true)
}

/// The first `n` of `pairs` (x, y) in one dispatch (copy.wgsl's two parameter sets).
fn copy_impl(
    r: &mut Recorder,
    pairs: [(View, View); 2],
    n: usize,
    zero: bool,
) -> Result<(), GpuError> {
    let mut p = [0u32; 16];
    let mut items = 0;
    let mut rows = 1;
    for (i, (x, y)) in pairs.iter().take(n).enumerate() {
        let len = y.width;
        r.check_view("copy y", y, len)?;
        let [xo, xs, xm] = w3(x);
        let [yo, ys, ym] = w3(y);
        p[8 * i..8 * i + 8].copy_from_slice(&[xo, xs, xm, len as u32, yo, ys, ym, zero as u32]);
        items += len;
        rows = rows.max(tokens(r, y));
    }
    let g = grid(items.div_ceil(WG), rows);
    r.push(Kernel::Copy, &[], &p, vec![], g)
}

/// In place RoPE of `heads` × `head_dim` (all dims rotate; `inv_freq` has head_dim/2 entries,
/// built with `cpu::rope::rope_inv_freq`). `neox`: pairs (i, i + d/2), else (2i, 2i + 1).
pub fn rope(
    r: &mut Recorder,
    x: View,
    heads: usize,
    head_dim: usize,
    inv_freq: &Bind,
    neox: bool,
) -> Result<(), GpuError> {
    rope_impl(r, [(x, heads), (x, 0)], head_dim, inv_freq, neox)
}

/// [`rope`] of two views with the same head dim, frequencies and layout in one dispatch (a
/// query and a key): `a` and `b` are (view, heads) and must not overlap.
pub fn rope2(
    r: &mut Recorder,
    a: (View, usize),
    b: (View, usize),
    head_dim: usize,
    inv_freq: &Bind,
    neox: bool,
) -> Result<(), GpuError> {
    rope_impl(r, [a, b], head_dim, inv_freq, neox)
}

fn rope_impl(
    r: &mut Recorder,
    views: [(View, usize); 2],
    head_dim: usize,
    inv_freq: &Bind,
    neox: bool,
) -> Result<(), GpuError> {
    ensure!(
        head_dim > 0 && head_dim.is_multiple_of(2),
        "rope: head dim {head_dim} must be even"
    );
    floats("rope inv_freq", inv_freq, head_dim / 2)?;
    let [(x, heads), (x2, heads2)] = views;
    r.check_view("rope x", &x, heads * head_dim)?;
    if heads2 > 0 {
        r.check_view("rope x", &x2, heads2 * head_dim)?;
    }
    let [xo, xs, xm] = w3(&x);
    let [x2o, x2s, x2m] = w3(&x2);
    let p = [
        xo,
        xs,
        xm,
        heads as u32,
        head_dim as u32,
        head_dim as u32,
        neox as u32,
        0,
        x2o,
        x2s,
        x2m,
        heads2 as u32,
    ];
    let rows = tokens(r, &x).max(if heads2 > 0 { tokens(r, &x2) } else { 1 });
    let g = grid(((heads + heads2) * head_dim / 2).div_ceil(WG), rows);
    r.push(Kernel::Rope, &[], &p, vec![inv_freq.clone()], g)
}

/// Shape of an attention call site and its ring.
#[derive(Clone, Copy, Debug)]
pub struct AttnShape {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub scale: f32,
    pub sinks: usize,
    pub window: usize,
    /// The ring keeps f16 keys and values (half the bytes; needs an even head dim), else f32.
    pub kv_f16: bool,
}

impl AttnShape {
    /// 32-bit words of the ring (keys then values; two f16 elements per word).
    pub fn ring_words(&self) -> usize {
        let elements = 2 * (self.sinks + self.window) * self.kv_heads * self.head_dim;
        if self.kv_f16 { elements / 2 } else { elements }
    }

    /// The shader define of the ring's element type (common.wgsl).
    fn kv_define(&self) -> &'static [&'static str] {
        if self.kv_f16 {
            &["KV_F16"]
        } else {
            &["KV_F32"]
        }
    }

    /// Ring slots per workgroup of the one-token kernel (attend1.wgsl's SPLIT).
    const SPLIT: usize = 64;

    /// Workgroups per head of the one-token kernel.
    pub fn splits(&self) -> usize {
        (self.sinks + self.window).div_ceil(Self::SPLIT)
    }

    /// Whether one-token runs take the split kernels (attend1 + attend_merge).
    fn split_fits(&self) -> bool {
        self.head_dim <= 256 && self.head_dim.is_multiple_of(4)
    }

    /// Floats of the scratch: the scores of attend.wgsl, or the split partials of attend1.wgsl.
    pub fn scratch_floats(&self) -> usize {
        let scores = self.kv_heads * (self.sinks + self.window);
        let parts = self.heads * self.splits() * (self.head_dim + 2);
        scores.max(parts)
    }
}

/// Append k, v to the ring, then attention of q over it, row by row.
#[allow(clippy::too_many_arguments)]
pub fn attend(
    r: &mut Recorder,
    s: AttnShape,
    q: View,
    k: View,
    v: View,
    y: View,
    ring: &Bind,
    scratch: &Bind,
) -> Result<(), GpuError> {
    ensure!(
        s.kv_heads > 0 && s.heads.is_multiple_of(s.kv_heads),
        "attend: {} heads over {} kv heads",
        s.heads,
        s.kv_heads
    );
    ensure!(s.window > 0, "attend: empty window");
    ensure!(
        !s.kv_f16 || s.head_dim.is_multiple_of(2),
        "attend: an f16 ring needs an even head dim, not {}",
        s.head_dim
    );
    let (qw, kw) = (s.heads * s.head_dim, s.kv_heads * s.head_dim);
    r.check_view("attend q", &q, qw)?;
    r.check_view("attend k", &k, kw)?;
    r.check_view("attend v", &v, kw)?;
    r.check_view("attend y", &y, qw)?;
    same_rows("attend", &q, &y)?;
    same_rows("attend k", &k, &y)?;
    floats("kv ring", ring, s.ring_words())?;
    floats("attention scratch", scratch, s.scratch_floats())?;
    let [qo, qs, qm] = w3(&q);
    let [ko, ks, km] = w3(&k);
    let [vo, vs, vm] = w3(&v);
    let [yo, ys, ym] = w3(&y);
    let p = [
        qo,
        qs,
        qm,
        s.heads as u32,
        ko,
        ks,
        km,
        s.kv_heads as u32,
        vo,
        vs,
        vm,
        s.head_dim as u32,
        yo,
        ys,
        ym,
        s.scale.to_bits(),
        s.sinks as u32,
        s.window as u32,
        s.splits() as u32,
        0,
    ];
    if tokens(r, &q) == 1 && s.split_fits() {
        // One token: every (head, 64 slots) in its own workgroup, then the merge.
        let binds = vec![ring.clone(), scratch.clone()];
        r.push(
            Kernel::Attend1,
            s.kv_define(),
            &p,
            binds,
            grid(s.heads, s.splits()),
        )?;
        return r.push(
            Kernel::AttendMerge,
            &[],
            &p,
            vec![scratch.clone()],
            grid(s.heads, 1),
        );
    }
    r.push(
        Kernel::Attend,
        s.kv_define(),
        &p,
        vec![ring.clone(), scratch.clone()],
        grid(s.kv_heads, 1),
    )
}

/// route = [top-k probabilities of softmax(logits) (not renormalised), their ids as f32].
pub fn moe_route(r: &mut Recorder, logits: View, route: View, k: usize) -> Result<(), GpuError> {
    let e = logits.width;
    ensure!(
        (1..=256).contains(&e) && (1..=e).contains(&k),
        "moe_route: top {k} of {e} experts"
    );
    r.check_view("moe logits", &logits, e)?;
    r.check_view("moe route", &route, 2 * k)?;
    same_rows("moe_route", &logits, &route)?;
    let [lo, ls, lm] = w3(&logits);
    let [ro, rs, rm] = w3(&route);
    let p = [lo, ls, lm, e as u32, ro, rs, rm, k as u32];
    r.push(
        Kernel::MoeRoute,
        &[],
        &p,
        vec![],
        grid(tokens(r, &route), 1),
    )
}

/// ids[out] = argmax(logits) (ties to the lowest id).
pub fn argmax(r: &mut Recorder, logits: View, ids: &Bind, out: usize) -> Result<(), GpuError> {
    sample_impl(r, Kernel::Argmax, logits, ids, out, 1)
}

/// ids[out] = a top-k / top-p / min-p draw at the Step's temperature and uniform number.
pub fn sample_top_k(
    r: &mut Recorder,
    logits: View,
    ids: &Bind,
    out: usize,
) -> Result<(), GpuError> {
    sample_impl(r, Kernel::SampleTopK, logits, ids, out, 1)
}

/// The repetition penalty on the logits row, in place, from the Step's `rep_n` (at most `cap`)
/// recent ids at `ids[rec..]` and its `rep_penalty` (rep_n = 0: no change). Runs before argmax /
/// sample_top_k.
pub fn repetition_penalty(
    r: &mut Recorder,
    logits: View,
    ids: &Bind,
    rec: usize,
    cap: usize,
) -> Result<(), GpuError> {
    sample_impl(r, Kernel::Penalize, logits, ids, rec, cap)
}

/// A one-workgroup kernel over one logits row that uses `ids[at..at + len]` (the drawn id's
/// slot, or the recent ids of the penalty).
fn sample_impl(
    r: &mut Recorder,
    kernel: Kernel,
    logits: View,
    ids: &Bind,
    at: usize,
    len: usize,
) -> Result<(), GpuError> {
    ensure!(
        logits.rows != Rows::All || r.max_rows == 1,
        "sampling reads one logits row"
    );
    r.check_view("logits", &logits, logits.width)?;
    ensure!(
        ids.floats() >= at + len.max(1),
        "token ids {at}..{} outside their buffer",
        at + len
    );
    let [lo, ls, lm] = w3(&logits);
    let p = [lo, ls, lm, logits.width as u32, at as u32, len as u32, 0, 0];
    r.push(kernel, &[], &p, vec![ids.clone()], [1, 1, 1])
}
