//! GPU backend against the CPU backend on every fixture model (lavapipe in CI): decode and
//! chunked prefill logits within 1e-3 relative L2 per position; no buffer / bind group /
//! pipeline created after init (wgpu's own counters); wgpu's host allocations per step constant.
//!
//! Skips loudly without an adapter unless `WEFT_REQUIRE_GPU=1`.

use std::path::Path;
use std::sync::Arc;

use super::GpuBackend;
use crate::backend::Backend;
use crate::convert::{ConvertOptions, OutType, convert_to_bytes};
use crate::gguf::Gguf;
use crate::model::Model;
use crate::parity::{Reference, rel_l2};
use crate::session::{Input, SessionConfig};
use crate::state::KvType;

#[global_allocator]
static ALLOC: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

/// Allocations made by this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> usize {
    weft_testkit::alloc::count(f).0
}

fn gpu_present() -> bool {
    match weft_kernels::gpu::GpuContext::new(&weft_kernels::gpu::GpuOptions::from_env()) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("WEFT_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("WEFT_REQUIRE_GPU=1 but no GPU adapter: {e}");
            }
            eprintln!("\n*** SKIPPED: no GPU adapter ({e}); GPU backend tests did not run ***\n");
            false
        }
    }
}

use weft_testkit::hf_cases as fixtures;

fn model(dir: &Path, ty: OutType) -> Arc<Model> {
    let bytes = convert_to_bytes(dir, &ConvertOptions::new(ty)).expect("convert");
    Arc::new(Model::from_gguf(Gguf::from_bytes(bytes).expect("gguf")).expect("model"))
}

fn config(backend: Backend, chunk: usize) -> SessionConfig {
    config_kv(backend, chunk, KvType::F32)
}

fn config_kv(backend: Backend, chunk: usize, kv_type: KvType) -> SessionConfig {
    SessionConfig {
        backend,
        prefill_chunk: chunk,
        logits_all: true,
        kv_window: 8,
        kv_sinks: 2,
        kv_type,
        ..SessionConfig::default()
    }
}

#[test]
fn every_fixture_matches_the_cpu_on_the_gpu() {
    if !gpu_present() {
        return;
    }
    let mut worst = 0.0f64;
    for dir in fixtures() {
        let tokens = Reference::load(&dir.join("reference.safetensors"))
            .unwrap()
            .tokens;
        let kinds = [
            (OutType::F32, KvType::F32),
            (OutType::Q8_0, KvType::F32),
            (OutType::Q4_0, KvType::F32),
            (OutType::Q8_0, KvType::F16),
        ];
        for (ty, kv) in kinds {
            let m = model(&dir, ty);
            let v = m.config().n_vocab;
            let name = dir.file_name().unwrap().to_string_lossy();
            let case = format!("{name} {ty} kv {}", kv.name());
            let config = |backend, chunk| config_kv(backend, chunk, kv);
            // Decode, past the KV window (8) so the rings wrap.
            let mut cpu = m.session(config(Backend::Cpu, 7)).unwrap();
            let mut gpu = m.session(config(Backend::Gpu, 7)).unwrap();
            for (t, &tok) in tokens.iter().enumerate() {
                let want = cpu.step(Input::Token(tok)).unwrap().to_vec();
                let got = gpu.step(Input::Token(tok)).unwrap();
                let e = rel_l2(got, &want);
                worst = worst.max(e);
                assert!(e <= 1e-3, "{case} decode position {t}: rel L2 {e}");
            }
            // Chunked prefill (7 does not divide the prompt), every position's logits.
            let (mut cpu, mut gpu) = (
                m.session(config(Backend::Cpu, 7)).unwrap(),
                m.session(config(Backend::Gpu, 7)).unwrap(),
            );
            let (mut want, mut got) = (vec![0.0; tokens.len() * v], vec![0.0; tokens.len() * v]);
            cpu.prefill_all(&tokens, &mut want).unwrap();
            gpu.prefill_all(&tokens, &mut got).unwrap();
            for t in 0..tokens.len() {
                let e = rel_l2(&got[t * v..(t + 1) * v], &want[t * v..(t + 1) * v]);
                worst = worst.max(e);
                assert!(e <= 1e-3, "{case} prefill position {t}: rel L2 {e}");
            }
        }
    }
    eprintln!("GPU vs CPU: worst relative L2 over all fixtures, types, paths: {worst:.2e}");
}

#[test]
fn nothing_is_created_after_init_and_host_allocations_per_step_are_constant() {
    if !gpu_present() {
        return;
    }
    let dir = fixtures()
        .into_iter()
        .find(|d| d.ends_with("zamba2_a"))
        .unwrap();
    let m = model(&dir, OutType::Q8_0);
    let cfg = config(Backend::Gpu, 4);
    let decode = m.compile(1, false);
    let prefill = m.compile(cfg.prefill_chunk, cfg.logits_all);
    let mut g = GpuBackend::new(&m, &cfg, &decode, &prefill).unwrap();
    let v = m.config().n_vocab;
    let (mut last, mut all) = (vec![0.0; v], vec![0.0; 4 * v]);
    let hal = |g: &GpuBackend| {
        let c = g.ctx.device.get_internal_counters().hal;
        (
            c.buffers.read(),
            c.bind_groups.read(),
            c.compute_pipelines.read(),
            c.shader_modules.read(),
        )
    };
    // Warm up: the first submit and map may set up wgpu internals.
    g.set_tokens(&[1, 2, 3]);
    g.run(true, 0, 3, &mut last, Some(&mut all));
    g.set_tokens(&[4]);
    g.run(false, 3, 1, &mut last, None);
    let before = hal(&g);
    let mut per_step = Vec::new();
    for pos in 4..24 {
        per_step.push(allocations(|| {
            g.set_tokens(&[(pos % 7) as u32]);
            g.run(false, pos, 1, &mut last, None);
        }));
    }
    let greedy: Vec<usize> = (24..34)
        .map(|p| {
            allocations(|| {
                g.decode_greedy(p);
            })
        })
        .collect();
    g.set_tokens(&[1, 2, 3, 4]);
    g.run(true, 34, 4, &mut last, Some(&mut all));
    assert_eq!(
        hal(&g),
        before,
        "(buffers, bind groups, pipelines, shader modules) after init"
    );
    let (dispatches, _) = g.dispatch_counts();
    eprintln!(
        "wgpu host allocations per decode step ({dispatches} dispatches): {per_step:?}; greedy: {greedy:?}"
    );
    let (lo, hi) = (
        per_step.iter().min().unwrap(),
        per_step.iter().max().unwrap(),
    );
    assert!(hi - lo <= 2, "allocations per step vary: {per_step:?}");
    // Measured: 196 per logits step, 236 per greedy step (two submits) on lavapipe (zamba2_a,
    // Q8_0, 91 dispatches).
    assert!(
        *hi < 8 * dispatches + 100,
        "allocations per step: {per_step:?}"
    );
}

/// A state blob saved on one backend loads on the other (and on its own) and the stream goes on
/// with the same logits: GPU → CPU, CPU → GPU, GPU → GPU (bit for bit), with wrapped KV rings
/// of f32 and of f16.
#[test]
fn state_blobs_move_between_gpu_and_cpu() {
    if !gpu_present() {
        return;
    }
    for (dir, kv) in fixtures()
        .into_iter()
        .flat_map(|d| [(d.clone(), KvType::F32), (d, KvType::F16)])
    {
        let case = format!(
            "{} kv {}",
            dir.file_name().unwrap().to_string_lossy(),
            kv.name()
        );
        let config = |backend, chunk| config_kv(backend, chunk, kv);
        let tokens = Reference::load(&dir.join("reference.safetensors"))
            .unwrap()
            .tokens;
        let (head, tail) = tokens.split_at(tokens.len() * 2 / 3);
        let m = model(&dir, OutType::F32);
        let mut gpu = m.session(config(Backend::Gpu, 5)).unwrap();
        let mut cpu = m.session(config(Backend::Cpu, 5)).unwrap();
        gpu.prefill(head).unwrap();
        cpu.prefill(head).unwrap();
        let mut gpu_blob = vec![0u8; gpu.state_size()];
        let mut cpu_blob = vec![0u8; cpu.state_size()];
        gpu.save_state(&mut gpu_blob).unwrap();
        cpu.save_state(&mut cpu_blob).unwrap();

        // The blobs agree except for last-bit differences in floats: compare by continuing.
        let mut gpu_from_cpu = m.session(config(Backend::Gpu, 5)).unwrap();
        let mut cpu_from_gpu = m.session(config(Backend::Cpu, 5)).unwrap();
        let mut gpu_again = m.session(config(Backend::Gpu, 5)).unwrap();
        gpu_from_cpu.load_state(&cpu_blob).unwrap();
        cpu_from_gpu.load_state(&gpu_blob).unwrap();
        gpu_again.load_state(&gpu_blob).unwrap();
        assert_eq!(gpu_again.position(), head.len(), "{case}");
        for (t, &tok) in tail.iter().enumerate() {
            let want = cpu.step(Input::Token(tok)).unwrap().to_vec();
            let original = gpu.step(Input::Token(tok)).unwrap().to_vec();
            for (name, s) in [
                ("gpu from cpu blob", &mut gpu_from_cpu),
                ("cpu from gpu blob", &mut cpu_from_gpu),
            ] {
                let e = rel_l2(s.step(Input::Token(tok)).unwrap(), &want);
                assert!(e <= 1e-3, "{case} {name} step {t}: rel L2 {e}");
            }
            let again = gpu_again.step(Input::Token(tok)).unwrap();
            assert_eq!(again, &original[..], "{case} gpu → gpu step {t}");
        }
        // Saved again after the same steps, both GPU sessions write the same blob.
        let mut a = vec![0u8; gpu.state_size()];
        let mut b = vec![0u8; gpu.state_size()];
        gpu.save_state(&mut a).unwrap();
        gpu_again.save_state(&mut b).unwrap();
        assert!(a == b, "{case}: GPU blobs differ after the same steps");
    }
}

/// `step_greedy` on the GPU (argmax there, only the id read back) picks the CPU's token.
#[test]
fn greedy_steps_pick_the_cpu_token() {
    if !gpu_present() {
        return;
    }
    for dir in fixtures() {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let m = model(&dir, OutType::F32);
        let mut gpu = m.session(config(Backend::Gpu, 5)).unwrap();
        let mut cpu = m.session(config(Backend::Cpu, 5)).unwrap();
        let (mut a, mut b) = (1u32, 1u32);
        for t in 0..12 {
            a = gpu.step_greedy(a).unwrap();
            b = cpu.step_greedy(b).unwrap();
            assert_eq!(a, b, "{case} step {t}");
        }
        assert!(gpu.logits().is_none(), "{case}: no logits read back");
    }
}

/// The bundled sensor model (Mamba-2 with `frame_in` / regression head) streams frames on the
/// GPU with the CPU's predictions.
#[test]
fn frame_models_match_the_cpu_on_the_gpu() {
    if !gpu_present() {
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/demo-sensor.gguf");
    let m = Arc::new(Model::load(&path).expect("models/demo-sensor.gguf"));
    let width = m.config().input_width();
    let mut cpu = m.session(config(Backend::Cpu, 4)).unwrap();
    let mut gpu = m.session(config(Backend::Gpu, 4)).unwrap();
    let mut worst = 0.0f64;
    for t in 0..64 {
        let frame: Vec<f32> = (0..width)
            .map(|c| ((t * 7 + c * 3) as f32 * 0.37).sin())
            .collect();
        let want = cpu.step(Input::Frame(&frame)).unwrap().to_vec();
        let got = gpu.step(Input::Frame(&frame)).unwrap();
        let e = rel_l2(got, &want);
        worst = worst.max(e);
        assert!(e <= 1e-3, "frame {t}: rel L2 {e}");
    }
    eprintln!("sensor model, 64 frames: worst rel L2 {worst:.2e}");
}

/// `step_sample` draws on the GPU (top-k kernel, the session's RNG stream) the CPU's ids, and a
/// chain the kernel does not cover (repetition penalty) falls back to the CPU sampler.
#[test]
fn sampled_steps_draw_the_cpu_ids() {
    use crate::sample::SamplerConfig;
    if !gpu_present() {
        return;
    }
    let on_kernel = SamplerConfig {
        temperature: 0.9,
        top_k: 40,
        top_p: 0.95,
        min_p: 0.02,
        ..SamplerConfig::default()
    };
    let penalised = SamplerConfig {
        repetition_penalty: 1.3,
        repeat_last_n: 8,
        ..on_kernel
    };
    let greedy = SamplerConfig {
        temperature: 0.0,
        ..SamplerConfig::default()
    };
    let greedy_penalised = SamplerConfig {
        repetition_penalty: 3.0,
        repeat_last_n: 6,
        ..greedy
    };
    // Off the kernels: no top-k (the CPU samples the read-back logits).
    let fallback = SamplerConfig {
        top_k: 0,
        ..penalised
    };
    let cases = [
        ("kernel", &on_kernel),
        ("penalty", &penalised),
        ("greedy", &greedy),
        ("greedy penalty", &greedy_penalised),
        ("fallback", &fallback),
    ];
    let mut penalty_changed_ids = false;
    for dir in fixtures() {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let m = model(&dir, OutType::F32);
        let mut ids: Vec<Vec<u32>> = Vec::new();
        for (name, cfg) in cases {
            let mut gpu = m.session(config(Backend::Gpu, 5)).unwrap();
            let mut cpu = m.session(config(Backend::Cpu, 5)).unwrap();
            gpu.set_seed(7);
            cpu.set_seed(7);
            let mut token = 1u32;
            let mut seen = Vec::new();
            for t in 0..16 {
                let want = cpu.step_sample(token, cfg).unwrap();
                let got = gpu.step_sample(token, cfg).unwrap();
                assert_eq!(got, want, "{case} {name} step {t}");
                // Teacher forcing: both go on with the CPU's id.
                token = want;
                seen.push(want);
            }
            assert_eq!(
                gpu.logits().is_none(),
                name != "fallback",
                "{case} {name}: logits read back only for the CPU fallback"
            );
            ids.push(seen);
        }
        penalty_changed_ids |= ids[2] != ids[3];
    }
    assert!(
        penalty_changed_ids,
        "the greedy penalty changed no id on any fixture: the test proves nothing"
    );
}
