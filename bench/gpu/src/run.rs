//! The measurement (feature `gpu`).

use std::time::{Duration, Instant};

use weft::backend::Backend;
use weft::backend::gpu::GpuBackend;
use weft::gguf::{GgmlType, Gguf};
use weft::{Model, SessionConfig};
use weft_kernels::gpu::bandwidth::copy_bandwidth;

use crate::synth::{Shape, gguf};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn bench(s: &Shape, ty: &str, decode_n: usize, prefill_n: usize) {
    let ty = match ty {
        "q8_0" => GgmlType::Q8_0,
        "q4_0" => GgmlType::Q4_0,
        "f16" => GgmlType::F16,
        t => panic!("unknown type {t}"),
    };
    let t = Instant::now();
    let model = Model::from_gguf(Gguf::from_bytes(gguf(s, ty)).unwrap()).unwrap();
    let synth_s = t.elapsed().as_secs_f64();
    let cfg = SessionConfig {
        backend: Backend::Gpu,
        prefill_chunk: prefill_n,
        ..SessionConfig::default()
    };
    let (decode, prefill) = (model.compile(1, false), model.compile(prefill_n, false));
    let t = Instant::now();
    let mut g = GpuBackend::new(&model, &cfg, &decode, &prefill).unwrap();
    let init_s = t.elapsed().as_secs_f64();
    let bw = copy_bandwidth(&g.ctx).unwrap();
    let (dma_copy_gbs, copy_gbs) = (bw.dma_gbs, bw.best());
    let vocab = model.config().n_vocab;
    let mut last = vec![0.0; vocab];

    let tokens: Vec<u32> = (0..prefill_n).map(|i| (i * 7919 % vocab) as u32).collect();
    let mut prefill_times = Vec::new();
    for _ in 0..4 {
        g.clear_state();
        g.set_tokens(&tokens);
        let t = Instant::now();
        g.run(true, 0, prefill_n, &mut last, None);
        prefill_times.push(t.elapsed());
    }
    prefill_times.remove(0);
    let prefill_t = median(prefill_times);

    g.clear_state();
    g.set_tokens(&[1]);
    let mut pos = 0;
    for _ in 0..5 {
        g.decode_greedy(pos);
        pos += 1;
    }
    let (mut step, mut enc) = (Vec::new(), Vec::new());
    let t_all = Instant::now();
    for _ in 0..decode_n {
        let t = Instant::now();
        g.decode_greedy(pos);
        step.push(t.elapsed());
        enc.push(g.last_encode());
        pos += 1;
    }
    let decode_tps = decode_n as f64 / t_all.elapsed().as_secs_f64();
    let mut sorted = step.clone();
    sorted.sort();
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    let step_t = median(step);
    let gpu_pass = g.time_decode_pass(pos, 20);
    if std::env::var_os("WEFT_GPU_PROFILE").is_some() {
        let parts: Vec<String> = g
            .time_decode_kernels(pos, 20)
            .iter()
            .map(|(l, n, t)| {
                format!(
                    "{{\"kernel\":\"{}\",\"dispatches\":{n},\"ms\":{:.3}}}",
                    l.replace('"', "'"),
                    t.as_secs_f64() * 1e3
                )
            })
            .collect();
        println!(
            "{{\"profile\":\"{}\",\"type\":\"{ty}\",\"kernels\":[{}]}}",
            s.name,
            parts.join(",")
        );
    }
    let (dispatches, prefill_dispatches) = g.dispatch_counts();
    let bytes = g.weight_bytes() as f64;
    let achieved = bytes / step_t.as_secs_f64() / 1e9;
    let pass_gbs = bytes / gpu_pass.as_secs_f64() / 1e9;
    println!(
        "{{\"shape\":\"{}\",\"type\":\"{ty}\",\"adapter\":\"{}\",\"synth_s\":{synth_s:.1},\"init_s\":{init_s:.2},\
\"weight_bytes\":{bytes},\"copy_gbs\":{copy_gbs:.0},\"dma_copy_gbs\":{dma_copy_gbs:.0},\"decode_tok_s\":{decode_tps:.1},\
\"decode_ms_p50\":{:.3},\"decode_ms_p99\":{:.3},\"encode_ms_p50\":{:.3},\"gpu_pass_ms\":{:.3},\
\"dispatches_per_token\":{},\"prefill_dispatches\":{prefill_dispatches},\"prefill_tokens\":{prefill_n},\
\"prefill_tok_s\":{:.1},\"decode_gbs\":{achieved:.0},\"decode_bw_fraction\":{:.3},\
\"gpu_pass_gbs\":{pass_gbs:.0},\"gpu_pass_bw_fraction\":{:.3}}}",
        s.name,
        g.ctx.describe().replace('"', "'"),
        step_t.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        median(enc).as_secs_f64() * 1e3,
        gpu_pass.as_secs_f64() * 1e3,
        dispatches + 1,
        prefill_n as f64 / prefill_t.as_secs_f64(),
        achieved / copy_gbs,
        pass_gbs / copy_gbs,
    );
}
