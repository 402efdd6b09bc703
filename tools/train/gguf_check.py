#!/usr/bin/env python3
"""Check a converted zamba2 GGUF against the Hugging Face model it came from, in transformers.

Reads the GGUF with gguf-py, dequantizes every tensor, undoes the converter's transforms
(docs/gguf.md: ssm_a = -exp(A_log), conv1d {K,C}, A/D {1,nh}, gated-norm {Di/G,G}, shared blocks
stored once, per-call-site adapters), loads the result into the HF model and compares:
  - tensors: every HF tensor is matched (max abs difference reported per GGUF type),
  - logits on a prompt vs. the float32 HF model,
  - optionally the val.txt perplexity with the GGUF's (quantized) weights.
So it checks both the converter's mapping and the cost of quantization, without weft's engine.

Usage:  python3 tools/train/gguf_check.py --gguf models/demo-text.gguf --hf tools/train/out/hf \
            [--val tools/train/data/val.txt]
"""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn.functional as F


def gguf_tensors(path):
    import gguf

    r = gguf.GGUFReader(path)
    out = {}
    for t in r.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type) if t.tensor_type.name not in ("F32", "F16") \
            else np.asarray(t.data)
        out[t.name] = (np.array(a, dtype=np.float32), t.tensor_type.name)
    fields = {k: f.contents() for k, f in r.fields.items() if not k.startswith("tokenizer.")}
    return out, fields


SOURCE = []  # GGUF name of each HF tensor, in the order to_hf fills them


def to_hf(tensors, fields):
    """GGUF names/layouts -> HF state dict (torch float32)."""
    hyb = list(fields["zamba2.hybrid_layers"])
    nblk = fields["zamba2.shared_block_count"]
    bmap = list(fields["zamba2.shared_block_map"])
    sd = {}
    used = set()

    def take(name):
        used.add(name)
        SOURCE.append(name)
        return torch.from_numpy(tensors[name][0].copy())

    sd["model.embed_tokens.weight"] = take("token_embd.weight")
    sd["model.final_layernorm.weight"] = take("output_norm.weight")
    n_layers = fields["zamba2.block_count"]
    first_of_block = {b: hyb[bmap.index(b)] for b in range(nblk)}
    for n in range(n_layers):
        if n in hyb:
            p = f"model.layers.{n}.mamba_decoder."
        else:
            p = f"model.layers.{n}."
        sd[p + "input_layernorm.weight"] = take(f"blk.{n}.attn_norm.weight")
        m = p + "mamba."
        sd[m + "in_proj.weight"] = take(f"blk.{n}.ssm_in.weight")
        sd[m + "out_proj.weight"] = take(f"blk.{n}.ssm_out.weight")
        sd[m + "conv1d.weight"] = take(f"blk.{n}.ssm_conv1d.weight").unsqueeze(1)  # [C,K] -> [C,1,K]
        sd[m + "conv1d.bias"] = take(f"blk.{n}.ssm_conv1d.bias")
        sd[m + "dt_bias"] = take(f"blk.{n}.ssm_dt.bias")
        sd[m + "A_log"] = torch.log(-take(f"blk.{n}.ssm_a").reshape(-1))
        sd[m + "D"] = take(f"blk.{n}.ssm_d").reshape(-1)
        sd[m + "norm.weight"] = take(f"blk.{n}.ssm_norm.weight").reshape(-1)
        if n in hyb:
            j = hyb.index(n)
            sd[f"model.layers.{n}.linear.weight"] = take(f"blk.{n}.shared_linear.weight")
            s = f"model.layers.{first_of_block[bmap[j]]}.shared_transformer."
            for x in "qkv":
                sd[s + f"self_attn.linear_{x}_adapter_list.{j}.0.weight"] = take(f"blk.{n}.attn_{x}_lora_a.weight")
                sd[s + f"self_attn.linear_{x}_adapter_list.{j}.1.weight"] = take(f"blk.{n}.attn_{x}_lora_b.weight")
            sd[s + f"feed_forward.gate_up_proj_adapter_list.{j}.0.weight"] = take(f"blk.{n}.ffn_gate_up_lora_a.weight")
            sd[s + f"feed_forward.gate_up_proj_adapter_list.{j}.1.weight"] = take(f"blk.{n}.ffn_gate_up_lora_b.weight")
    for b in range(nblk):
        s = f"model.layers.{first_of_block[b]}.shared_transformer."
        sd[s + "input_layernorm.weight"] = take(f"shared.{b}.attn_norm.weight")
        sd[s + "pre_ff_layernorm.weight"] = take(f"shared.{b}.ffn_norm.weight")
        for x in "qkv":
            sd[s + f"self_attn.{x}_proj.weight"] = take(f"shared.{b}.attn_{x}.weight")
        sd[s + "self_attn.o_proj.weight"] = take(f"shared.{b}.attn_output.weight")
        sd[s + "feed_forward.gate_up_proj.weight"] = take(f"shared.{b}.ffn_gate_up.weight")
        sd[s + "feed_forward.down_proj.weight"] = take(f"shared.{b}.ffn_down.weight")
    unused = set(tensors) - used
    assert not unused, f"GGUF tensors not mapped: {sorted(unused)}"
    return sd


def val_loss(model, tok, path, T=512):
    eot = tok.token_to_id("<|endoftext|>")
    with open(path, encoding="utf-8") as f:
        blocks = [b for b in f.read().split("\n\n") if b.strip()]
    stream = []
    for enc in tok.encode_batch(blocks):
        stream += [eot] + enc.ids
    s = torch.tensor(stream)
    n = (len(s) - 1) // T
    xs, ys = s[: n * T].view(n, T), s[1: n * T + 1].view(n, T)
    tot = 0.0
    with torch.no_grad():
        for i in range(0, n, 8):
            lg = model(input_ids=xs[i:i + 8], use_cache=False, logits_to_keep=0).logits
            tot += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), ys[i:i + 8].reshape(-1), reduction="sum").item()
    return tot / (n * T)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--hf", required=True)
    ap.add_argument("--val", default=None)
    ap.add_argument("--ref-json", default=None,
                    help="a ref_logits.py JSON: add the same outputs for the GGUF's dequantized weights")
    ap.add_argument("--new-tokens", type=int, default=24)
    ap.add_argument("--prompt", default="In the beginning God created the heaven and the earth.\nAnd the earth was")
    args = ap.parse_args()

    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    tensors, fields = gguf_tensors(args.gguf)
    ref = AutoModelForCausalLM.from_pretrained(args.hf, dtype=torch.float32).eval()
    ref.config._attn_implementation = "eager"
    sd = to_hf(tensors, fields)
    ref_sd = ref.state_dict()
    worst = {}
    name_type = {g: ty for g, (_, ty) in tensors.items()}
    for (k, v), g in zip(sd.items(), SOURCE):
        assert k in ref_sd, f"unexpected HF name {k}"
        assert tuple(v.shape) == tuple(ref_sd[k].shape), (k, v.shape, ref_sd[k].shape)
        d = (v - ref_sd[k]).abs().max().item()
        worst[name_type[g]] = max(worst.get(name_type[g], 0.0), d)
    mapped = set(sd)
    # every HF parameter (unique tensors; tied copies share storage) must be covered
    uniq = {n for n, _ in ref.named_parameters()}
    missing = uniq - mapped
    assert not missing, f"HF tensors without a GGUF source: {sorted(missing)}"
    print(f"mapped {len(sd)} tensors from {len(tensors)} GGUF tensors; types {sorted(set(name_type.values()))}")
    print("max |gguf - hf| over tensors: " + ", ".join(f"{k} {v:.3g}" for k, v in worst.items()))

    import copy
    q = copy.deepcopy(ref)
    res = q.load_state_dict(sd, strict=False)
    bad = [k for k in res.missing_keys if k in uniq]
    assert not bad, bad
    q.tie_weights()
    tok = Tokenizer.from_file(os.path.join(args.hf, "tokenizer.json"))
    ids = torch.tensor([[tok.token_to_id("<|endoftext|>")] + tok.encode(args.prompt).ids])
    with torch.no_grad():
        a = ref(input_ids=ids, use_cache=False, logits_to_keep=0).logits[0]
        b = q(input_ids=ids, use_cache=False, logits_to_keep=0).logits[0]
    print(f"prompt logits: max |diff| {(a - b).abs().max().item():.4f}, "
          f"top-1 agreement {(a.argmax(-1) == b.argmax(-1)).float().mean().item() * 100:.0f}%")
    if args.ref_json:
        import json

        with open(args.ref_json) as f:
            text = f.read()
        ref_data = json.loads(text)
        assert ref_data["input_ids"] == ids[0].tolist(), "ref JSON was made for another prompt"
        with torch.no_grad():
            gen = q.generate(ids, max_new_tokens=args.new_tokens, do_sample=False, pad_token_id=1,
                             eos_token_id=None, output_scores=True, return_dict_in_generate=True)
        top = torch.topk(b, 5, dim=-1)
        ref_data["gguf_dequantized"] = {
            "file": os.path.basename(args.gguf),
            "note": "same prompt, transformers float32 with the GGUF's weights dequantized",
            "top5": [[[int(i), round(float(v), 5)] for i, v in zip(top.indices[t], top.values[t])]
                     for t in range(ids.shape[1])],
            "greedy_ids": gen.sequences[0, ids.shape[1]:].tolist(),
            "greedy_top_logits": [round(float(s[0].max()), 5) for s in gen.scores],
        }
        lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in ref_data.items()]
        with open(args.ref_json, "w") as f:
            f.write("{\n" + ",\n".join(lines) + "\n}\n")
        print(f"greedy with GGUF weights: {tok.decode(ref_data['gguf_dequantized']['greedy_ids'])!r}")
    if args.val:
        lr, lq = val_loss(ref, tok, args.val), val_loss(q, tok, args.val)
        print(f"val loss: hf float32 {lr:.4f} (ppl {math.exp(lr):.2f}); gguf weights {lq:.4f} (ppl {math.exp(lq):.2f})")


if __name__ == "__main__":
    main()
