#!/usr/bin/env python3
"""Generate weft's reference fixtures: tiny random-weight Hugging Face models + reference logits.

Setup on a fresh machine (CPU torch is enough):

    pip install torch transformers==5.23.0 gguf safetensors numpy
    # or: pip install -r tools/requirements-fixtures.txt

Run from the repository root:

    python tools/gen_fixtures.py                 # all cases
    python tools/gen_fixtures.py mamba1_a llama_b   # selected cases

For every case it writes tests/fixtures/<case>/:
    config.json             exactly what model.config.save_pretrained writes
    model.safetensors       the weights, with the names real hub checkpoints use (v4 names; see docs/fixtures.md)
    reference.safetensors   tokens int64 [T], logits float32 [T, V]; logits[t] = next-token logits after
                            tokens[0..=t] from ONE full forward over the whole sequence (no cache)
    fixture.json            seed, T, versions, shapes, per-layer sensitivity, notes

Everything is seeded, float32, CPU, eval mode, no_grad; the output is byte-for-byte deterministic.
See docs/fixtures.md for the format and the list of cases.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile

import torch

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

T_TOKENS = 40
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures")
MIN_SENSITIVITY = 1e-2

# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

CASES: dict[str, dict] = {
    "mamba1_a": dict(
        cls="MambaForCausalLM", seed=101,
        config=dict(vocab_size=320, hidden_size=64, num_hidden_layers=3, state_size=8, expand=2,
                    conv_kernel=4, time_step_rank=6, use_conv_bias=True, use_bias=False,
                    layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                    pad_token_id=0, bos_token_id=0, eos_token_id=0),
        notes="Mamba-1, tied lm_head, dt_rank 6 (explicit), conv bias, no in/out_proj bias.",
    ),
    "mamba1_b": dict(
        cls="MambaForCausalLM", seed=102,
        config=dict(vocab_size=301, hidden_size=48, num_hidden_layers=2, state_size=16, expand=2,
                    conv_kernel=3, time_step_rank="auto", use_conv_bias=True, use_bias=True,
                    layer_norm_epsilon=1e-6, tie_word_embeddings=False,
                    pad_token_id=0, bos_token_id=0, eos_token_id=0),
        notes="Mamba-1, untied lm_head, dt_rank auto (=ceil(48/16)=3), in_proj/out_proj bias, conv kernel 3, "
              "vocab 301 (not a multiple of 8).",
    ),
    "mamba2_a": dict(
        cls="Mamba2ForCausalLM", seed=201,
        config=dict(vocab_size=256, hidden_size=64, num_hidden_layers=3, state_size=16, expand=2,
                    num_heads=8, head_dim=16, n_groups=2, conv_kernel=4, chunk_size=16,
                    use_conv_bias=True, use_bias=False, layer_norm_epsilon=1e-5,
                    tie_word_embeddings=False, pad_token_id=0, bos_token_id=0, eos_token_id=0),
        notes="Mamba-2, n_groups 2 (grouped gated RMSNorm and B/C groups), untied, chunk 16 (3 chunks over T=40).",
    ),
    "mamba2_b": dict(
        cls="Mamba2ForCausalLM", seed=202,
        config=dict(vocab_size=200, hidden_size=32, num_hidden_layers=2, state_size=8, expand=2,
                    num_heads=4, head_dim=16, n_groups=1, conv_kernel=4, chunk_size=8,
                    use_conv_bias=True, use_bias=False, layer_norm_epsilon=1e-6,
                    tie_word_embeddings=True, pad_token_id=0, bos_token_id=0, eos_token_id=0),
        notes="Mamba-2, n_groups 1, tied, chunk_size 8 (5 SSD chunks over T=40).",
    ),
    "jamba_a": dict(
        cls="JambaForCausalLM", seed=301,
        config=dict(vocab_size=288, hidden_size=48, num_hidden_layers=4, intermediate_size=64,
                    num_attention_heads=4, num_key_value_heads=2,
                    attn_layer_period=2, attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=1,
                    num_experts=4, num_experts_per_tok=2,
                    mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=8,
                    mamba_conv_bias=True, mamba_proj_bias=False, rms_norm_eps=1e-6,
                    use_mamba_kernels=False, tie_word_embeddings=False,
                    pad_token_id=0, bos_token_id=1, eos_token_id=2),
        notes="Jamba: layers 0,2 Mamba+dense MLP, layers 1,3 attention+MoE (4 experts, top-2), GQA 4/2 (head_dim 12), untied.",
    ),
    "jamba_b": dict(
        cls="JambaForCausalLM", seed=302,
        config=dict(vocab_size=257, hidden_size=32, num_hidden_layers=3, intermediate_size=40,
                    num_attention_heads=4, num_key_value_heads=1,
                    attn_layer_period=3, attn_layer_offset=0, expert_layer_period=1, expert_layer_offset=0,
                    num_experts=3, num_experts_per_tok=2,
                    mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank="auto",
                    mamba_conv_bias=True, mamba_proj_bias=False, rms_norm_eps=1e-5,
                    use_mamba_kernels=False, tie_word_embeddings=True,
                    pad_token_id=0, bos_token_id=1, eos_token_id=2),
        notes="Jamba: attention at layer 0 only (MQA, kv heads 1), Mamba at 1,2, MoE in every layer "
              "(3 experts, top-2), dt_rank auto (=2), tied.",
    ),
    "zamba2_a": dict(
        cls="Zamba2ForCausalLM", seed=401,
        config=dict(vocab_size=300, hidden_size=32, num_hidden_layers=6,
                    layers_block_type=["mamba", "hybrid", "mamba", "hybrid", "hybrid", "mamba"],
                    num_mem_blocks=2, use_shared_attention_adapter=True, adapter_rank=4,
                    use_mem_rope=True, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                    mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_ngroups=2, n_mamba_heads=4,
                    chunk_size=16, num_attention_heads=4, num_key_value_heads=4, intermediate_size=48,
                    rms_norm_eps=1e-5, time_step_min=0.001, tie_word_embeddings=True,
                    pad_token_id=0, bos_token_id=1, eos_token_id=2),
        notes="Zamba2: 6 layers, hybrid at 1,3,4 (invocations 0,1,2 -> blocks 0,1,0), 2 shared blocks, "
              "attention adapters rank 4, RoPE, 2 Mamba groups, tied. dt never reaches the time_step_min clamp.",
    ),
    "zamba2_b": dict(
        cls="Zamba2ForCausalLM", seed=402,
        config=dict(vocab_size=260, hidden_size=48, num_hidden_layers=5,
                    layers_block_type=["hybrid", "mamba", "mamba", "hybrid", "mamba"],
                    num_mem_blocks=1, use_shared_attention_adapter=False, adapter_rank=8,
                    use_mem_rope=False,
                    mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_ngroups=1, n_mamba_heads=6,
                    chunk_size=8, num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
                    rms_norm_eps=1e-6, time_step_min=0.02, tie_word_embeddings=True,
                    pad_token_id=0, bos_token_id=1, eos_token_id=2),
        notes="Zamba2: hybrid at 0,3 (both block 0, one shared block), no attention adapter (MLP adapters rank 8 "
              "always present), no RoPE, 1 Mamba group, chunk 8, time_step_min 0.02 so the CPU full-forward dt "
              "clamp IS active for part of the dt values (see fixture.json dt_clamp).",
    ),
    "llama_a": dict(
        cls="LlamaForCausalLM", seed=501,
        config=dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, intermediate_size=128,
                    num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                    rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                    rms_norm_eps=1e-5, max_position_embeddings=128, tie_word_embeddings=False,
                    pad_token_id=0, bos_token_id=1, eos_token_id=2),
        notes="Llama: GQA 4/2, head_dim 16, rope_theta 10000, untied.",
    ),
    "llama_b": dict(
        cls="LlamaForCausalLM", seed=502,
        config=dict(vocab_size=211, hidden_size=48, num_hidden_layers=3, intermediate_size=80,
                    num_attention_heads=4, num_key_value_heads=1, head_dim=12,
                    rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
                    rms_norm_eps=1e-6, max_position_embeddings=128, tie_word_embeddings=True,
                    pad_token_id=0, bos_token_id=1, eos_token_id=2),
        notes="Llama: MQA (kv 1), head_dim 12, rope_theta 5e5, rms eps 1e-6, tied.",
    ),
}

# ----------------------------------------------------------------------------------------------
# Weight initialisation: large enough that every layer visibly changes the logits
# ----------------------------------------------------------------------------------------------


def inv_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


def log_uniform(shape, lo, hi, g):
    u = torch.rand(shape, generator=g, dtype=torch.float64)
    return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))


@torch.no_grad()
def init_weights(model: torch.nn.Module, g: torch.Generator) -> None:
    """Re-initialise every parameter (named_parameters dedups tied/shared tensors) in a fixed order."""
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        shape = tuple(p.shape)
        if leaf == "A_log":
            # A = -exp(A_log) in [-16, -1]
            new = torch.log(log_uniform(shape, 1.0, 16.0, g))
        elif leaf == "D":
            new = 1.0 + 0.5 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif leaf == "dt_bias" or name.endswith("dt_proj.bias"):
            # softplus(dt_bias) log-uniform in [0.01, 1]
            new = inv_softplus(log_uniform(shape, 0.01, 1.0, g))
        elif "conv1d" in name and leaf == "weight":
            new = 0.5 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif leaf == "bias":
            new = (0.3 if "conv1d" in name else 0.1) * torch.randn(shape, generator=g, dtype=torch.float64)
        elif len(shape) == 1:
            # every RMSNorm weight (block norms, gated norms, Jamba dt/B/C norms, final norm)
            new = 1.0 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif "embed" in name:
            new = 0.3 * torch.randn(shape, generator=g, dtype=torch.float64)
        elif name == "lm_head.weight":
            new = 2.0 / math.sqrt(shape[-1]) * torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            # Linear [out, in] or fused experts [E, out, in]: unit-gain fan-in scaling
            new = torch.randn(shape, generator=g, dtype=torch.float64) / math.sqrt(shape[-1])
        p.copy_(new.to(p.dtype))


# ----------------------------------------------------------------------------------------------
# Ablation: which modules' outputs to zero, per architecture
# ----------------------------------------------------------------------------------------------


def ablation_targets(model, arch: str) -> list[tuple[str, torch.nn.Module]]:
    out = []
    if arch in ("MambaForCausalLM", "Mamba2ForCausalLM"):
        for i, layer in enumerate(model.backbone.layers):
            out.append((f"layer{i}.mixer", layer.mixer))
    elif arch == "JambaForCausalLM":
        for i, layer in enumerate(model.model.layers):
            mixer = layer.mamba if hasattr(layer, "mamba") else layer.self_attn
            kind = "mamba" if hasattr(layer, "mamba") else "attn"
            out.append((f"layer{i}.{kind}", mixer))
            ff = layer.feed_forward
            out.append((f"layer{i}.{'moe' if hasattr(ff, 'router') else 'mlp'}", ff))
    elif arch == "Zamba2ForCausalLM":
        for i, layer in enumerate(model.model.layers):
            if hasattr(layer, "shared_transformer"):
                out.append((f"layer{i}.hybrid.shared_block_via_linear", layer.linear))
                out.append((f"layer{i}.hybrid.mamba", layer.mamba_decoder.mamba))
            else:
                out.append((f"layer{i}.mamba", layer.mamba))
    elif arch == "LlamaForCausalLM":
        for i, layer in enumerate(model.model.layers):
            out.append((f"layer{i}.attn", layer.self_attn))
            out.append((f"layer{i}.mlp", layer.mlp))
    else:
        raise ValueError(arch)
    return out


def _zero_hook(_m, _inp, output):
    if isinstance(output, tuple):
        return (torch.zeros_like(output[0]),) + tuple(output[1:])
    return torch.zeros_like(output)


def forward_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    return model(input_ids=tokens[None], use_cache=False).logits[0].float()


def sensitivity(model, arch, tokens, ref) -> dict[str, float]:
    res = {}
    for label, mod in ablation_targets(model, arch):
        h = mod.register_forward_hook(_zero_hook)
        try:
            abl = forward_logits(model, tokens)
        finally:
            h.remove()
        res[label] = float((abl - ref).norm() / ref.norm())
    return res


# ----------------------------------------------------------------------------------------------
# Informational: how far HF's own cached paths are from the full forward (the reference)
# ----------------------------------------------------------------------------------------------


def _cache_kw(out):
    if hasattr(out, "past_key_values"):
        return {"past_key_values": out.past_key_values}
    return {"cache_params": out.cache_params}


def hf_cached_paths_vs_reference(model, tokens, ref) -> dict:
    """max|x - ref| / max|ref| for (a) token-by-token decode from token 0 and (b) prefill 20 + decode."""
    res = {}
    for label, n_prefill in (("decode_from_token0", 1), ("prefill20_then_decode", 20)):
        out = model(input_ids=tokens[None, :n_prefill], use_cache=True)
        rows = [out.logits[0]]
        for t in range(n_prefill, len(tokens)):
            out = model(input_ids=tokens[None, t:t + 1], use_cache=True,
                        cache_position=torch.tensor([t]), **_cache_kw(out))
            rows.append(out.logits[0, -1:])
        got = torch.cat(rows).float()
        res[label] = float(f"{float((got - ref).abs().max() / ref.abs().max()):.2g}")
    return res


# ----------------------------------------------------------------------------------------------
# Zamba2 dt-clamp statistics (how many softplus(dt + dt_bias) values fall below time_step_min)
# ----------------------------------------------------------------------------------------------


def zamba2_dt_stats(model, tokens) -> dict:
    stats = {"below_time_step_min": 0, "total": 0, "min_dt": float("inf")}
    hooks = []
    for mod in model.modules():
        if type(mod).__name__ == "Zamba2MambaMixer":
            def hook(m, _inp, out):
                dt_raw = out[..., -m.num_heads:]
                dt = torch.nn.functional.softplus(dt_raw + m.dt_bias)
                stats["below_time_step_min"] += int((dt < m.time_step_limit[0]).sum())
                stats["total"] += dt.numel()
                stats["min_dt"] = min(stats["min_dt"], float(dt.min()))
            hooks.append(mod.in_proj.register_forward_hook(lambda mm, i, o, m=mod, h=hook: h(m, i, o)))
    forward_logits(model, tokens)
    for h in hooks:
        h.remove()
    stats["min_dt"] = float(f"{stats['min_dt']:.6g}")
    return stats


# ----------------------------------------------------------------------------------------------
# Jamba: write v4 / hub per-expert names instead of v5's fused 3-D experts
# ----------------------------------------------------------------------------------------------


def jamba_to_v4_state_dict(model) -> dict[str, torch.Tensor]:
    """Reverse of transformers 5.x conversion_mapping['jamba']:
    feed_forward.experts.gate_up_proj [E, 2F, H] -> experts.{e}.gate_proj.weight [F, H] (first half),
                                                    experts.{e}.up_proj.weight   [F, H] (second half)
    feed_forward.experts.down_proj    [E, H, F]  -> experts.{e}.down_proj.weight [H, F]
    Tied lm_head is dropped (as save_pretrained does)."""
    sd = {}
    for k, v in model.state_dict().items():
        v = v.detach().clone().contiguous()
        if k.endswith("feed_forward.experts.gate_up_proj"):
            base = k[: -len("gate_up_proj")]
            F = v.shape[1] // 2
            for e in range(v.shape[0]):
                sd[f"{base}{e}.gate_proj.weight"] = v[e, :F].clone().contiguous()
                sd[f"{base}{e}.up_proj.weight"] = v[e, F:].clone().contiguous()
        elif k.endswith("feed_forward.experts.down_proj"):
            base = k[: -len("down_proj")]
            for e in range(v.shape[0]):
                sd[f"{base}{e}.down_proj.weight"] = v[e].clone().contiguous()
        else:
            sd[k] = v
    if model.config.tie_word_embeddings:
        sd.pop("lm_head.weight", None)
    return sd


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def build(case: str, spec: dict):
    torch.manual_seed(spec["seed"])
    cls = getattr(transformers, spec["cls"])
    cfg_cls = cls.config_class
    config = cfg_cls(**spec["config"])
    config.dtype = torch.float32
    model = cls(config).to(torch.float32)
    g = torch.Generator().manual_seed(spec["seed"])
    init_weights(model, g)
    model.eval()
    return model


def tensor_list(path):
    sd = load_file(path)
    return {k: list(v.shape) for k, v in sorted(sd.items())}


@torch.no_grad()
def gen_case(case: str, spec: dict) -> dict:
    arch = spec["cls"]
    model = build(case, spec)
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(spec["seed"] * 7919 + 1)
    tokens = torch.randint(0, V, (T_TOKENS,), generator=g, dtype=torch.int64)

    logits = forward_logits(model, tokens)
    assert logits.shape == (T_TOKENS, V), logits.shape
    assert torch.isfinite(logits).all(), "non-finite logits"
    absmax = float(logits.abs().max())
    std = float(logits.std())
    assert 0.3 < std < 20 and absmax < 100, f"badly conditioned logits: std {std} absmax {absmax}"
    # determinism of the forward itself
    assert torch.equal(logits, forward_logits(model, tokens))

    sens = sensitivity(model, arch, tokens, logits)
    for k, v in sens.items():
        print(f"  {case:9s} ablate {k:40s} rel L2 change {v:.4f}")
    weak = {k: v for k, v in sens.items() if v < MIN_SENSITIVITY}
    assert not weak, f"{case}: layers with too little effect on the logits: {weak}"

    extra = {}
    if arch == "Zamba2ForCausalLM":
        extra["dt_clamp"] = zamba2_dt_stats(model, tokens)
        extra["dt_clamp"]["time_step_min"] = model.config.time_step_min
        # what the same full forward gives WITHOUT the clamp (= v5 decode-path / kernel semantics)
        mixers = [m for m in model.modules() if type(m).__name__ == "Zamba2MambaMixer"]
        saved = [m.time_step_limit for m in mixers]
        for m in mixers:
            m.time_step_limit = (0.0, float("inf"))
        noclamp = forward_logits(model, tokens)
        for m, lim in zip(mixers, saved):
            m.time_step_limit = lim
        assert torch.equal(logits, forward_logits(model, tokens))
        extra["dt_clamp"]["logits_rel_l2_if_unclamped"] = round(float((noclamp - logits).norm() / logits.norm()), 6)
        extra["dt_clamp"]["logits_max_abs_diff_if_unclamped"] = round(float((noclamp - logits).abs().max()), 6)
        print(f"  {case:9s} dt clamp stats {extra['dt_clamp']}")

    extra["hf_cached_paths_max_rel_diff_vs_reference"] = hf_cached_paths_vs_reference(model, tokens, logits)
    print(f"  {case:9s} HF cached paths vs reference: {extra['hf_cached_paths_max_rel_diff_vs_reference']}")

    out = os.path.join(OUT_DIR, case)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        shutil.copyfile(os.path.join(tmp, "config.json"), os.path.join(out, "config.json"))
        if arch == "JambaForCausalLM":
            # transformers 5.23 fuses the experts in memory (experts.gate_up_proj [E,2F,H], experts.down_proj
            # [E,H,F]) but save_pretrained reverts conversion_mapping and writes the v4/hub per-expert names.
            # Cross-check that against our own independent reverse conversion, value for value.
            written = load_file(os.path.join(tmp, "model.safetensors"))
            mine = jamba_to_v4_state_dict(model)
            assert sorted(written) == sorted(mine), (sorted(set(written) ^ set(mine)))
            for k in mine:
                assert torch.equal(written[k], mine[k]), k
            assert not any(k.endswith("gate_up_proj") for k in written)
        shutil.copyfile(os.path.join(tmp, "model.safetensors"), os.path.join(out, "model.safetensors"))

    # Reload exactly like a user would and require bit-identical logits.
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    logits2 = forward_logits(reloaded, tokens)
    assert torch.equal(logits, logits2), f"{case}: reloaded model differs, max {float((logits - logits2).abs().max())}"
    if arch == "JambaForCausalLM":
        assert any(".experts.0.gate_proj.weight" in k for k in tensor_list(os.path.join(out, "model.safetensors")))

    save_file({"tokens": tokens.contiguous(), "logits": logits.contiguous()},
              os.path.join(out, "reference.safetensors"), metadata={"format": "pt"})

    # Drop the transient "dtype" difference etc.: config.json is kept verbatim.
    cfg = model.config
    info = {
        "case": case,
        "architecture": arch,
        "notes": spec["notes"],
        "seed": spec["seed"],
        "T": T_TOKENS,
        "vocab_size": V,
        "reference": "logits[t] = model(tokens[None, :], use_cache=False).logits[0, t] (one full forward, "
                     "float32, CPU, torch reference path); tokens uniform in [0, vocab_size)",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "tie_word_embeddings": bool(cfg.tie_word_embeddings),
        "logits_std": round(std, 4),
        "logits_absmax": round(absmax, 4),
        "layer_sensitivity_rel_l2": {k: round(v, 4) for k, v in sens.items()},
        "tensors": tensor_list(os.path.join(out, "model.safetensors")),
        **extra,
    }
    with open(os.path.join(out, "fixture.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"  {case:9s} ok: V={V} logits std {std:.3f} absmax {absmax:.3f}; {len(info['tensors'])} tensors")
    return info


def main(argv):
    names = argv[1:] or list(CASES)
    for n in names:
        if n not in CASES:
            sys.exit(f"unknown case {n}; known: {', '.join(CASES)}")
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    assert transformers.__version__ == "5.23.0", f"fixtures are pinned to transformers 5.23.0, found {transformers.__version__}"
    for n in names:
        print(f"[{n}]")
        gen_case(n, CASES[n])


if __name__ == "__main__":
    main(sys.argv)
