//! Kernel micro-benchmarks: matvec GB/s of weight bytes per type, path and thread count; the
//! SSM step; prefill attention (per token vs in blocks); thread-pool dispatch latency; and a
//! plain memory-read reference.
//!
//! Weights are cycled over copies totalling more than [`WORKING_SET`] bytes, so every matvec
//! streams its weights from DRAM as decode does (a single 768×1536 matrix would sit in L3 and
//! measure cache bandwidth instead). `cargo bench -p weft-kernels -- matvec/Q8_0` filters.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use weft_kernels::GgmlType;
use weft_kernels::cpu::attn::{KvRows, f16};
use weft_kernels::cpu::attn_block::{
    BlockGeom, MAX_QUERIES, Positions, Source, Visibility, attend_block, block_scratch_len,
};
use weft_kernels::cpu::dispatch::{Path, best};
use weft_kernels::cpu::matvec::{WeightView, matvec_rows_on};
use weft_kernels::cpu::matvec_q8::{Q8Act, matvec_q8_rows_on};
use weft_kernels::cpu::ssm::{Mamba2Dims, ssm_step_mamba1_on, ssm_step_mamba2_heads_on};
use weft_kernels::pool::ThreadPool;
use weft_kernels::quant::quantize;

/// Bytes of weights cycled through: several times the largest last-level cache. Override with
/// `WEFT_BENCH_WS=<bytes>` (e.g. 1 to measure cache-resident compute throughput).
const WORKING_SET: usize = 160 << 20;

fn working_set() -> usize {
    std::env::var("WEFT_BENCH_WS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(WORKING_SET)
}

/// (rows, cols): Mamba-2 130M out_proj, a 1B-class square projection, a 1B-class down_proj.
const SHAPES: [(usize, usize); 3] = [(768, 1536), (2048, 2048), (2048, 8192)];

const TYPES: [GgmlType; 5] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
];

fn config(g: &mut BenchmarkGroup<criterion::measurement::WallTime>) {
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
}

/// Deterministic pseudo-random f32s (no rand dependency).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Copies of one encoded matrix, at different addresses, totalling > WORKING_SET bytes.
struct WeightSet {
    ty: GgmlType,
    rows: usize,
    cols: usize,
    copies: Vec<Vec<u8>>,
}

impl WeightSet {
    fn new(ty: GgmlType, rows: usize, cols: usize) -> Self {
        let one = quantize(ty, &values(rows * cols, 7)).unwrap();
        let n = working_set().div_ceil(one.len()).max(2);
        WeightSet {
            ty,
            rows,
            cols,
            copies: vec![one; n],
        }
    }

    fn bytes(&self) -> u64 {
        self.copies[0].len() as u64
    }

    fn view(&self, i: usize) -> WeightView<'_> {
        let c = &self.copies[i % self.copies.len()];
        WeightView::new(self.ty, c, self.rows, self.cols).unwrap()
    }
}

fn bench_matvec(c: &mut Criterion) {
    let pool = ThreadPool::new(2);
    let mut g = c.benchmark_group("matvec");
    config(&mut g);
    let fast = best();
    for (rows, cols) in SHAPES {
        let x = values(cols, 3);
        let mut y = vec![0.0f32; rows];
        let mut qa = Q8Act::new(cols, 1);
        for ty in TYPES {
            let set = WeightSet::new(ty, rows, cols);
            g.throughput(Throughput::BytesDecimal(set.bytes()));
            let mut runs: Vec<(Path, usize)> = vec![(fast, 1), (fast, 2)];
            if fast != Path::Avx2 && Path::Avx2.is_supported() {
                runs.push((Path::Avx2, 1));
            }
            if (rows, cols) == (2048, 2048) {
                runs.push((Path::Scalar, 1));
            }
            for (path, threads) in runs {
                let name = format!("{ty}/{rows}x{cols}/{path}/{threads}t");
                let mut i = 0;
                g.bench_function(&name, |b| {
                    b.iter(|| {
                        let w = set.view(i);
                        i += 1;
                        if threads == 1 {
                            matvec_rows_on(path, &w, &x, &mut y, 0..rows);
                        } else {
                            pool.run_chunks(&mut y, 4, &|r, yc| {
                                matvec_rows_on(path, &w, &x, yc, r)
                            });
                        }
                        black_box(&y);
                    })
                });
            }
            if !matches!(ty, GgmlType::Q8_0 | GgmlType::Q4_0) {
                continue;
            }
            // The int8 scheme, activation quantization included (and the AVX-512 kernel
            // without VBMI next to the VBMI one, and the AVX2 one, to compare).
            let mut i8_runs = vec![(fast, 1), (fast, 2)];
            if fast == Path::Avx512Vbmi {
                i8_runs.push((Path::Avx512, 1));
            }
            if fast != Path::Avx2 && Path::Avx2.is_supported() {
                i8_runs.push((Path::Avx2, 1));
            }
            for (path, threads) in i8_runs {
                let name = format!("{ty}-i8/{rows}x{cols}/{path}/{threads}t");
                let mut i = 0;
                g.bench_function(&name, |b| {
                    b.iter(|| {
                        let w = set.view(i);
                        i += 1;
                        qa.quantize_on(path, &x, cols);
                        if threads == 1 {
                            matvec_q8_rows_on(path, &w, &qa, &mut y, 0..rows);
                        } else {
                            pool.run_chunks(&mut y, 4, &|r, yc| {
                                matvec_q8_rows_on(path, &w, &qa, yc, r)
                            });
                        }
                        black_box(&y);
                    })
                });
            }
        }
    }
    g.finish();
}

/// Plain sequential read of WORKING_SET bytes (1 and 2 threads): the machine's bandwidth as
/// these benchmarks see it, to compare the matvec numbers with.
fn bench_read(c: &mut Criterion) {
    let pool = ThreadPool::new(2);
    let buf = vec![1u64; WORKING_SET / 8];
    let mut g = c.benchmark_group("read");
    config(&mut g);
    g.throughput(Throughput::BytesDecimal(WORKING_SET as u64));
    let sum = |s: &[u64]| s.iter().fold(0u64, |a, &v| a.wrapping_add(v));
    g.bench_function("1t", |b| b.iter(|| black_box(sum(&buf))));
    g.bench_function("2t", |b| {
        b.iter(|| {
            pool.run(&|i, n| {
                let r = weft_kernels::pool::split_range(buf.len(), 64, i, n);
                black_box(sum(&buf[r]));
            })
        })
    });
    g.finish();
}

fn bench_ssm(c: &mut Criterion) {
    let mut g = c.benchmark_group("ssm");
    config(&mut g);
    // Mamba-2 130M layer: 24 heads × 64 × 128 state (786 KB).
    let dm = Mamba2Dims {
        nh: 24,
        p: 64,
        n: 128,
        g: 1,
    };
    let mut state = values(dm.nh * dm.p * dm.n, 1);
    let x = values(dm.nh * dm.p, 2);
    let dt: Vec<f32> = values(dm.nh, 3).iter().map(|v| v.abs() * 0.1).collect();
    let a: Vec<f32> = values(dm.nh, 4).iter().map(|v| -v.abs() - 0.5).collect();
    let (b, cc, d) = (values(dm.n, 5), values(dm.n, 6), values(dm.nh, 7));
    let mut y = vec![0.0; dm.nh * dm.p];
    g.throughput(Throughput::BytesDecimal((state.len() * 4) as u64));
    let mut paths = vec![best(), Path::Scalar];
    if best() != Path::Avx2 && Path::Avx2.is_supported() {
        paths.insert(1, Path::Avx2); // the AVX-512 kernel's baseline
    }
    for path in paths {
        g.bench_function(format!("mamba2-24x64x128/{path}"), |bn| {
            bn.iter(|| {
                ssm_step_mamba2_heads_on(
                    path,
                    &mut state,
                    &x,
                    &dt,
                    &a,
                    &b,
                    &cc,
                    &d,
                    dm,
                    0..dm.nh,
                    &mut y,
                );
                black_box(&y);
            })
        });
    }
    // Mamba-1 130M layer: d_inner 1536 × state 16 (exp per element).
    let (ni, n) = (1536, 16);
    let mut s1 = values(ni * n, 8);
    let a1: Vec<f32> = values(ni * n, 9).iter().map(|v| -v.abs() - 0.5).collect();
    let (x1, dt1) = (
        values(ni, 10),
        values(ni, 11).iter().map(|v| v.abs()).collect::<Vec<_>>(),
    );
    let (b1, c1, d1) = (values(n, 12), values(n, 13), values(ni, 14));
    let mut y1 = vec![0.0; ni];
    g.throughput(Throughput::BytesDecimal((s1.len() * 4) as u64));
    for path in [best(), Path::Scalar] {
        g.bench_function(format!("mamba1-1536x16/{path}"), |bn| {
            bn.iter(|| {
                ssm_step_mamba1_on(path, &mut s1, &x1, &dt1, &a1, &b1, &c1, &d1, &mut y1);
                black_box(&y1);
            })
        });
    }
    g.finish();
}

/// Prefill attention of one layer, 1 thread: a 128-token chunk after 1024 cached positions
/// (llama-124m's 12 heads × 64, f16 cache), token by token with the decode kernel against
/// blocks of 16 rows × one KV head. Throughput in query rows.
fn bench_attention(c: &mut Criterion) {
    let mut g = c.benchmark_group("attention");
    config(&mut g);
    let (heads, hd, depth, rows) = (12, 64, 1024, 128);
    let w = heads * hd;
    let slots = depth + rows;
    let to16 = |v: Vec<f32>| v.into_iter().map(f16::from_f32).collect::<Vec<f16>>();
    let q = values(rows * w, 23);
    let (keys, vals) = (to16(values(slots * w, 21)), to16(values(slots * w, 22)));
    let scale = 1.0 / (hd as f32).sqrt();
    let mut out = vec![0.0; rows * w];
    g.throughput(Throughput::Elements(rows as u64));
    g.bench_function(
        format!("prefill-12x64-d{depth}-f16/per-token/{}", best()),
        |bn| {
            let mut scores = vec![0.0; slots];
            bn.iter(|| {
                for r in 0..rows {
                    let n = depth + r + 1;
                    let kv = KvRows::F16 {
                        keys: &keys[..n * w],
                        values: &vals[..n * w],
                    };
                    kv.attend_heads(
                        &q[r * w..(r + 1) * w],
                        n,
                        heads,
                        heads,
                        hd,
                        scale,
                        &mut scores,
                        0..heads,
                        &mut out[r * w..(r + 1) * w],
                    );
                }
                black_box(&out);
            })
        },
    );
    g.bench_function(
        format!("prefill-12x64-d{depth}-f16/blocks/{}", best()),
        |bn| {
            let mut scratch = vec![0.0; block_scratch_len(hd)];
            let mut block = vec![0.0; MAX_QUERIES * hd];
            let source = [Source {
                kv: KvRows::F16 {
                    keys: &keys,
                    values: &vals,
                },
                stride: w,
                positions: Positions::Consecutive {
                    start: 0,
                    len: slots,
                },
            }];
            bn.iter(|| {
                for r0 in (0..rows).step_by(MAX_QUERIES) {
                    let vis = Visibility {
                        newest: (depth + r0) as u64,
                        sinks: 0,
                        window: u64::MAX / 2,
                    };
                    for j in 0..heads {
                        let g = BlockGeom {
                            hd,
                            rep: 1,
                            kv_head: j,
                            scale,
                        };
                        let ob = &mut block[..MAX_QUERIES * hd];
                        let qb = &q[r0 * w + j * hd..];
                        attend_block(&source, &vis, &g, qb, w, MAX_QUERIES, &mut scratch, ob);
                    }
                }
                black_box(&block);
            })
        },
    );
    g.finish();
}

fn bench_pool(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool");
    g.sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for threads in [1, 2] {
        let pool = ThreadPool::new(threads);
        g.bench_function(format!("dispatch-join/{threads}t"), |b| {
            b.iter(|| {
                pool.run(&|i, n| {
                    black_box((i, n));
                })
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_matvec,
    bench_read,
    bench_ssm,
    bench_attention,
    bench_pool
);
criterion_main!(benches);
