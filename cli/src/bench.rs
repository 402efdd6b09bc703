//! `weft bench <model.gguf> [--threads N] [--prompt N] [--gen N] [--runs R] [--json]`: load time,
//! prefill and decode speed, per-token latency, peak RSS, and decode memory traffic against the
//! machine's read bandwidth measured in the same process (roofline fraction).
//!
//! Each run resets the session, prefills `--prompt` random tokens (after `--depth` untimed ones)
//! and decodes `--gen` random tokens one step at a time (no sampling: the engine alone, as
//! llama-bench's `tg`). Speeds are the median over runs; p50/p99 pool every decode step.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use weft::backend::Backend;
use weft::backend::cpu_traffic::decode_traffic;
use weft::{Input, KvType, Model, Session, SessionConfig};

use crate::CliResult;
use crate::common::{self, BackendArg, check_backend};

#[derive(clap::Args)]
pub struct Args {
    model: PathBuf,
    /// Worker threads (0: physical cores).
    #[arg(long, short = 't', default_value_t = 0)]
    threads: usize,
    /// Prompt tokens prefilled per run.
    #[arg(long, short = 'p', default_value_t = 128)]
    prompt: usize,
    /// Tokens decoded per run.
    #[arg(long = "gen", short = 'n', default_value_t = 64)]
    n_gen: usize,
    /// Tokens fed (untimed, by prefill) before each run: measures speed deep in a stream.
    #[arg(long, short = 'd', default_value_t = 0)]
    depth: usize,
    /// Timed runs (the median is reported).
    #[arg(long, short = 'r', default_value_t = 5)]
    runs: usize,
    /// Tokens per prefill chunk (default: the prompt, at most 512).
    #[arg(long)]
    chunk: Option<usize>,
    /// KV window of attention layers (default: the session default).
    #[arg(long)]
    kv_window: Option<usize>,
    /// KV cache element type: f32 or f16.
    #[arg(long, default_value = "f32")]
    kv_type: KvType,
    /// Where the model runs: cpu, gpu or auto. On the GPU, decode samples greedily there and
    /// reads back only the token id; the roofline is the GPU's copy bandwidth.
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// Size of the CPU bandwidth probe's buffer in MiB (0 skips the probe).
    #[arg(long, default_value_t = 512)]
    probe_mib: usize,
    /// Multiply Q8_0/Q4_0 weights with int8-quantized activations (llama.cpp's scheme).
    #[arg(long)]
    int8: bool,
    /// Read the file into memory instead of memory-mapping it.
    #[arg(long)]
    in_memory: bool,
    /// Read the file into private memory backed by transparent huge pages (Linux) instead of
    /// memory-mapping it (the load time includes the read).
    #[arg(long, conflicts_with = "in_memory")]
    huge_pages: bool,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also time this many plain reads of one decode step's bytes (weights + state + KV, with
    /// the same threads, from DRAM): the machine's own p50/p99 for that much memory traffic,
    /// the floor under decode's p99/p50 (0: skip).
    #[arg(long, default_value_t = 0, value_name = "N")]
    read_passes: usize,
    /// Also write every decode step's time (ms, one per line, in order) to this file: where
    /// p99 comes from (isolated spikes or slow stretches).
    #[arg(long, value_name = "FILE")]
    steps: Option<std::path::PathBuf>,
}

/// A deterministic token stream (xorshift), independent of the engine.
struct Tokens(u64);

impl Tokens {
    fn take(&mut self, n: usize, vocab: usize) -> Vec<u32> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 % vocab as u64) as u32
            })
            .collect()
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Sum of a slice in 8 independent lanes (vectorizes to plain loads + adds).
fn read_sum(s: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    for c in s.chunks_exact(8) {
        for i in 0..8 {
            acc[i] = acc[i].wrapping_add(c[i]);
        }
    }
    acc.iter().fold(0, |a, &b| a.wrapping_add(b))
}

/// Read bandwidth in GB/s with `threads` threads over a `mib` MiB buffer: best of several
/// passes, each thread reading its own contiguous share.
pub fn bandwidth_probe(threads: usize, mib: usize) -> f64 {
    let n = (mib << 20) / 8;
    // Huge pages, as the fastest placement of weights and state gets, so the ceiling is the
    // machine's and not the page size's. Written before it is read: untouched zero pages would
    // all map one physical page and read from cache.
    let mut buf = vec![0u64; n];
    weft::mem::advise_huge_pages(&buf);
    buf.iter_mut().zip(0..).for_each(|(x, i)| *x = i);
    let per = n.div_ceil(threads);
    let mut best = f64::INFINITY;
    for _ in 0..7 {
        let t = Instant::now();
        let total = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(per)
                .map(|c| s.spawn(move || read_sum(c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .fold(0u64, u64::wrapping_add)
        });
        std::hint::black_box(total);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (n * 8) as f64 / best / 1e9
}

/// The p50 and p99 (ms) of `passes` timed reads of `bytes` bytes by a persistent pool of
/// `threads` threads, each reading its share, as decode's matvecs do. Passes alternate between
/// two buffers so that each reads DRAM rather than what the last one left in cache.
pub fn read_percentiles(threads: usize, bytes: u64, passes: usize) -> (f64, f64) {
    let n = (bytes as usize / 8).next_multiple_of(8).max(8);
    let mut buf = vec![0u64; 2 * n];
    weft::mem::advise_huge_pages(&buf);
    buf.iter_mut().zip(0..).for_each(|(x, i)| *x = i);
    let pool = weft_kernels::pool::ThreadPool::new(threads);
    let mut times = Vec::with_capacity(passes);
    const WARM_UP: usize = 4;
    for pass in 0..passes + WARM_UP {
        let half = &buf[(pass % 2) * n..][..n];
        let t = Instant::now();
        pool.run(&|idx, nt| {
            let r = weft_kernels::pool::split_range(n, 8, idx, nt);
            std::hint::black_box(read_sum(&half[r]));
        });
        if pass >= WARM_UP {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// One timed decode step: on the GPU with the argmax there (only the id comes back), on the
/// CPU the engine's step alone (logits, no sampling), as llama-bench's `tg`.
fn decode_one(session: &mut Session, token: u32, on_gpu: bool) -> Result<(), weft::SessionError> {
    if on_gpu {
        session.step_greedy(token).map(drop)
    } else {
        session.step(Input::Token(token)).map(drop)
    }
}

/// What a GPU run adds to the report.
struct GpuFigures {
    adapter: String,
    dispatches: usize,
    pass_ms: f64,
    weight_bytes: u64,
    dma_gbs: f64,
    /// The roofline: the best of a copy-engine and a compute-shader copy (read + write bytes).
    copy_gbs: f64,
    /// WEFT_GPU_PROFILE=1: GPU ms per decode step of each kernel variant run alone
    /// (kernel file and defines, dispatches per step, ms).
    profile: Vec<(String, usize, f64)>,
}

#[cfg(feature = "gpu")]
fn gpu_figures(session: &mut Session) -> Result<GpuFigures, String> {
    let pos = session.position();
    let g = session.gpu().ok_or("the session is not on the GPU")?;
    let bw = weft_kernels::gpu::bandwidth::copy_bandwidth(&g.ctx).map_err(|e| e.to_string())?;
    let pass = g.time_decode_pass(pos, 20);
    let profile = if std::env::var_os("WEFT_GPU_PROFILE").is_some_and(|v| v != "0") {
        let parts = g.time_decode_kernels(pos, 20);
        // The per-kernel runs leave garbage in the arena and state: start the next run clean.
        g.clear_state();
        parts
            .into_iter()
            .map(|(l, n, t)| (l, n, t.as_secs_f64() * 1e3))
            .collect()
    } else {
        Vec::new()
    };
    Ok(GpuFigures {
        adapter: g.ctx.describe(),
        dispatches: g.dispatch_counts().0,
        pass_ms: pass.as_secs_f64() * 1e3,
        weight_bytes: g.weight_bytes(),
        dma_gbs: bw.dma_gbs,
        copy_gbs: bw.best(),
        profile,
    })
}

#[cfg(not(feature = "gpu"))]
fn gpu_figures(_session: &mut Session) -> Result<GpuFigures, String> {
    Err("this weft was built without the GPU backend".into())
}

pub fn run(args: Args) -> CliResult {
    check_backend(args.backend)?;
    if args.n_gen == 0 || args.prompt == 0 || args.runs == 0 {
        return Err("--prompt, --gen and --runs must be at least 1".into());
    }
    let t = Instant::now();
    let model = if args.in_memory {
        let bytes = std::fs::read(&args.model)?;
        Arc::new(Model::from_gguf(weft::gguf::Gguf::from_bytes(bytes)?)?)
    } else {
        let placement = crate::common::placement(args.huge_pages);
        Arc::new(Model::load_with(&args.model, placement)?)
    };
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let chunk = args.chunk.unwrap_or(args.prompt.clamp(1, 512));
    let mut config = SessionConfig {
        threads: args.threads,
        int8_activations: args.int8,
        prefill_chunk: chunk,
        backend: args.backend.backend(),
        kv_type: args.kv_type,
        ..SessionConfig::default()
    };
    if let Some(w) = args.kv_window {
        config.kv_window = w;
    }
    let t = Instant::now();
    let mut session = model.session(config)?;
    let session_ms = t.elapsed().as_secs_f64() * 1e3;
    let threads = session.threads();
    let on_gpu = session.backend() == Backend::Gpu;
    let vocab = model.config().n_vocab;
    let mut rng = Tokens(0x9E37_79B9_7F4A_7C15);
    let prompt = rng.take(args.prompt, vocab);
    let depth = rng.take(args.depth, vocab);
    let gen_tokens = rng.take(args.n_gen, vocab);

    // Warm-up: pages the weights in and settles the threads.
    session.prefill(&prompt[..prompt.len().min(16)])?;
    for &t in gen_tokens.iter().take(8) {
        decode_one(&mut session, t, on_gpu)?;
    }

    let traffic = decode_traffic(&model, &model.compile(1, false), args.kv_type);
    let (mut pp, mut tg, mut steps) = (Vec::new(), Vec::new(), Vec::new());
    let mut kv_slots = 0u64;
    for _ in 0..args.runs {
        session.reset();
        if !depth.is_empty() {
            session.prefill(&depth)?;
        }
        let t = Instant::now();
        session.prefill(&prompt)?;
        pp.push(args.prompt as f64 / t.elapsed().as_secs_f64());
        let mut run_time = Duration::ZERO;
        let mut slots_sum = 0u64;
        for &tok in &gen_tokens {
            let t = Instant::now();
            decode_one(&mut session, tok, on_gpu)?;
            let d = t.elapsed();
            run_time += d;
            steps.push(d.as_secs_f64() * 1e3);
            // Ring fill from the position (a GPU session keeps its rings on the GPU).
            slots_sum += (0..)
                .map_while(|i| session.kv_ring(i))
                .map(|r| r.capacity().min(session.position()) as u64)
                .sum::<u64>();
        }
        kv_slots = slots_sum / args.n_gen as u64;
        tg.push(args.n_gen as f64 / run_time.as_secs_f64());
    }
    let (prefill_tok_s, decode_tok_s) = (median(&mut pp), median(&mut tg));
    if let Some(path) = &args.steps {
        let text: String = steps.iter().map(|ms| format!("{ms:.4}\n")).collect();
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    steps.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&steps, 0.5), percentile(&steps, 0.99));
    let peak_rss = common::peak_memory().map_or(0.0, |b| b as f64 / (1 << 20) as f64);
    // kv_per_slot sums over rings; kv_slots sums filled slots over rings: use the mean fill.
    let rings = (0..).map_while(|i| session.kv_ring(i)).count().max(1) as u64;
    let bytes_per_token = traffic.weights + traffic.state + traffic.kv_per_slot * kv_slots / rings;
    let achieved = bytes_per_token as f64 * decode_tok_s / 1e9;
    let gpu = if on_gpu {
        Some(gpu_figures(&mut session)?)
    } else {
        None
    };
    let bandwidth = match &gpu {
        Some(g) => g.copy_gbs,
        None if args.probe_mib > 0 => bandwidth_probe(threads, args.probe_mib),
        None => 0.0,
    };
    let read = (args.read_passes > 0 && !on_gpu)
        .then(|| read_percentiles(threads, bytes_per_token, args.read_passes));
    let roofline = if bandwidth > 0.0 {
        achieved / bandwidth
    } else {
        0.0
    };
    let c = model.config();
    let file_mib =
        std::fs::metadata(&args.model).map_or(0.0, |m| m.len() as f64 / (1 << 20) as f64);
    let name = args
        .model
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    if args.json {
        let mut out = json!({
            "model": name,
            "backend": if on_gpu { "gpu" } else { "cpu" },
            "arch": c.arch.name(),
            "file_mib": file_mib,
            "threads": threads,
            "int8_activations": args.int8,
            "huge_pages": args.huge_pages,
            "kv_type": args.kv_type.name(),
            "prompt": args.prompt,
            "gen": args.n_gen,
            "depth": args.depth,
            "runs": args.runs,
            "prefill_chunk": chunk,
            "load_ms": load_ms,
            "session_ms": session_ms,
            "prefill_tok_s": prefill_tok_s,
            "decode_tok_s": decode_tok_s,
            "p50_ms": p50,
            "p99_ms": p99,
            "peak_rss_mb": peak_rss,
            "bytes_per_token": bytes_per_token,
            "weight_bytes_per_token": traffic.weights,
            "state_bytes_per_token": traffic.state,
            "kv_bytes_per_token": bytes_per_token - traffic.weights - traffic.state,
            "achieved_gbps": achieved,
            "bandwidth_gbps": bandwidth,
            "roofline_fraction": roofline,
            "ceiling_tok_s": if bytes_per_token > 0 { bandwidth * 1e9 / bytes_per_token as f64 } else { 0.0 },
        });
        if let Some((p50, p99)) = read {
            out["read_p50_ms"] = json!(p50);
            out["read_p99_ms"] = json!(p99);
        }
        if let Some(g) = &gpu {
            out["adapter"] = json!(g.adapter);
            out["dispatches_per_token"] = json!(g.dispatches);
            out["gpu_pass_ms"] = json!(g.pass_ms);
            out["gpu_weight_bytes"] = json!(g.weight_bytes);
            out["dma_copy_gbps"] = json!(g.dma_gbs);
            if !g.profile.is_empty() {
                out["gpu_profile"] = g
                    .profile
                    .iter()
                    .map(|(k, n, ms)| json!({"kernel": k, "dispatches": n, "ms": ms}))
                    .collect();
            }
        }
        println!("{out}");
    } else {
        println!("model        {name} ({}, {file_mib:.1} MiB)", c.arch.name());
        println!(
            "threads      {threads}   prompt {}   gen {}   depth {}   runs {}   chunk {chunk}",
            args.prompt, args.n_gen, args.depth, args.runs
        );
        if let Some(g) = &gpu {
            println!(
                "gpu          {}\n             {} dispatches/token, GPU pass {:.3} ms/token",
                g.adapter, g.dispatches, g.pass_ms
            );
            for (k, n, ms) in &g.profile {
                println!("             {ms:8.3} ms  {n:4} × {k}");
            }
        }
        let placed = if args.huge_pages { ", huge pages" } else { "" };
        let placed = if args.kv_type == KvType::F32 {
            placed.to_string()
        } else {
            format!("{placed}, {} KV", args.kv_type.name())
        };
        println!("load         {load_ms:.1} ms (session {session_ms:.1} ms{placed})");
        println!("prefill      {prefill_tok_s:.1} tok/s");
        println!("decode       {decode_tok_s:.1} tok/s   p50 {p50:.3} ms   p99 {p99:.3} ms");
        println!("peak RSS     {peak_rss:.1} MiB");
        println!(
            "traffic      {:.2} MB/token (weights {:.2}, state {:.2}, kv {:.2})",
            bytes_per_token as f64 / 1e6,
            traffic.weights as f64 / 1e6,
            traffic.state as f64 / 1e6,
            (bytes_per_token - traffic.weights - traffic.state) as f64 / 1e6
        );
        println!(
            "bandwidth    {achieved:.2} GB/s achieved of {bandwidth:.2} GB/s measured → roofline {:.1}%",
            100.0 * roofline
        );
        if let Some((r50, r99)) = read {
            println!(
                "plain read   p50 {r50:.3} ms   p99 {r99:.3} ms of {:.2} MB → p99/p50 {:.2} (decode {:.2})",
                bytes_per_token as f64 / 1e6,
                r99 / r50,
                p99 / p50
            );
        }
    }
    Ok(())
}
