#!/usr/bin/env python3
"""Reference outputs of the trained demo model from transformers (CPU, float32), for checking
that another runtime (weft) reproduces it.

Writes (in --out, default tools/train/out/):
  ref_logits.npy    float32 [T, vocab]: logits at every position of the prompt (one full forward)
  ref_logits.json   prompt, token ids, top-5 (id, logit) per position, the greedy continuation
                    (transformers generate, recurrent cache path) and its per-step top-1 logits,
                    and the perplexity of val.txt if --val is given
Optionally --compact FILE writes the JSON alone (small enough to commit).

Usage:  python3 tools/train/ref_logits.py --model tools/train/out/hf [--val tools/train/data/val.txt]
"""
import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(here, "out", "hf"))
    ap.add_argument("--out", default=os.path.join(here, "out"))
    ap.add_argument("--prompt", default="In the beginning God created the heaven and the earth.\nAnd the earth was")
    ap.add_argument("--new-tokens", type=int, default=24)
    ap.add_argument("--val", default=None, help="val.txt: also report its perplexity (seq 512 windows)")
    ap.add_argument("--compact", default=None, help="also write the JSON here")
    args = ap.parse_args()

    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    model.config._attn_implementation = "eager"
    model.eval()
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    eot = tok.token_to_id("<|endoftext|>")
    ids = [eot] + tok.encode(args.prompt).ids
    x = torch.tensor([ids])
    with torch.no_grad():
        logits = model(input_ids=x, use_cache=False, logits_to_keep=0).logits[0].float()
        gen = model.generate(x, max_new_tokens=args.new_tokens, do_sample=False, pad_token_id=1,
                             eos_token_id=None, output_scores=True, return_dict_in_generate=True)
    new = gen.sequences[0, len(ids):].tolist()
    step_top = [float(s[0].max()) for s in gen.scores]
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "ref_logits.npy"), logits.numpy())
    top = torch.topk(logits, 5, dim=-1)
    ref = {
        "model": "demo-text (tools/train/out/hf)",
        "prompt": args.prompt,
        "input_ids": ids,
        "note": "input_ids start with <|endoftext|> (id 0) as BOS; float32 CPU eager transformers",
        "top5": [[[int(i), round(float(v), 5)] for i, v in zip(top.indices[t], top.values[t])]
                 for t in range(len(ids))],
        "last_logits_first16": [round(float(v), 5) for v in logits[-1, :16]],
        "greedy_ids": new,
        "greedy_top_logits": [round(v, 5) for v in step_top],
        "greedy_text": tok.decode(new),
    }
    if args.val:
        with open(args.val, encoding="utf-8") as f:
            blocks = [b for b in f.read().split("\n\n") if b.strip()]
        stream = []
        for enc in tok.encode_batch(blocks):
            stream += [eot] + enc.ids
        s = torch.tensor(stream)
        T = 512
        n = (len(s) - 1) // T
        xs, ys = s[: n * T].view(n, T), s[1: n * T + 1].view(n, T)
        tot = 0.0
        with torch.no_grad():
            for i in range(0, n, 8):
                xb, yb = xs[i:i + 8], ys[i:i + 8]
                lg = model(input_ids=xb, use_cache=False, logits_to_keep=0).logits
                tot += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), yb.reshape(-1), reduction="sum").item()
        ref["val_loss_cpu_fp32"] = tot / (n * T)
        ref["val_ppl_cpu_fp32"] = math.exp(tot / (n * T))
        print(f"val loss {ref['val_loss_cpu_fp32']:.4f} ppl {ref['val_ppl_cpu_fp32']:.2f}")
    text = "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in ref.items()) + "\n}\n"
    with open(os.path.join(args.out, "ref_logits.json"), "w") as f:
        f.write(text)
    if args.compact:
        with open(args.compact, "w") as f:
            f.write(text)
    print("greedy:", repr(args.prompt + ref["greedy_text"]))
    print("top1 ids:", [t[0][0] for t in ref["top5"]])


if __name__ == "__main__":
    main()
