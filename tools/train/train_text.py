#!/usr/bin/env python3
"""Train weft's bundled demo text model: a small Zamba2 (transformers' Zamba2ForCausalLM) on the
King James Bible (see prepare_corpus.py) with the BPE tokenizer from train_tokenizer.py.

The architecture is Zamba2 as published: Mamba-2 layers, some of which are "hybrid" layers that
first run one of two *shared* attention+MLP blocks (num_mem_blocks=2, used in turn) on
concat(hidden, embeddings), with per-call-site LoRA adapters on q/k/v and the MLP's gate_up, RoPE in
the shared attention, and tied input/output embeddings. Training uses the pure PyTorch path of
transformers' Zamba2 (no mamba_ssm kernels needed), AdamW, linear warm-up then cosine decay, bf16
autocast on CUDA, dropout applied through forward hooks on the residual-branch outputs (training
only: the saved model is plain Zamba2 and has no dropout in it).

The model with the best validation loss seen at the evaluations is the one saved (float32
safetensors via save_pretrained, with the tokenizer files), together with metrics.json (losses,
perplexity), samples.txt (greedy and temperature-0.8 continuations) and train_log.txt.

Usage (the defaults are the committed model's settings; see tools/train/README.md):
  python3 tools/train/train_text.py --data tools/train/data --out tools/train/out/hf
  python3 tools/train/train_text.py --bench 20      # only time 20 steps and exit
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def log(msg, fh=None):
    print(msg, flush=True)
    if fh:
        fh.write(msg + "\n")
        fh.flush()


def build_config(args, vocab_size):
    from transformers import Zamba2Config

    hybrid = [int(x) for x in args.hybrid.split(",")]
    types = ["hybrid" if i in hybrid else "linear_attention" for i in range(args.layers)]
    return Zamba2Config(
        vocab_size=vocab_size,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        layers_block_type=types,
        mamba_d_state=args.d_state,
        mamba_d_conv=4,
        mamba_expand=2,
        mamba_ngroups=1,
        n_mamba_heads=2 * args.hidden // args.mamba_headdim,
        chunk_size=256,
        intermediate_size=args.ffn,
        hidden_act="gelu",
        num_attention_heads=args.heads,
        num_key_value_heads=args.heads,
        num_mem_blocks=2,
        use_shared_attention_adapter=True,
        adapter_rank=args.adapter_rank,
        use_mem_rope=True,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        max_position_embeddings=args.max_positions,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=0,
        use_cache=True,
        num_logits_to_keep=1,
    )


def load_stream(path, tok, eot):
    """Chapters (blank-line separated blocks) -> one id stream, each chapter preceded by eot."""
    with open(path, encoding="utf-8") as f:
        blocks = [b for b in f.read().split("\n\n") if b.strip()]
    ids = []
    for enc in tok.encode_batch(blocks):
        ids.append(eot)
        ids.extend(enc.ids)
    return torch.tensor(np.array(ids, dtype=np.int64))


def add_dropout_hooks(model, p):
    """Dropout on every residual-branch output (Mamba out_proj, attention o_proj, MLP down_proj,
    the hybrid layers' linear) and on the embeddings. Active only in train() mode."""
    if p <= 0:
        return []
    hooks = []

    def hook(mod, inp, out):
        return F.dropout(out, p, mod.training)

    for name, mod in model.named_modules():
        if name.endswith(("mamba.out_proj", "self_attn.o_proj", "feed_forward.down_proj")) or (
            name.endswith(".linear") and "layers." in name) or name.endswith("embed_tokens"):
            hooks.append(mod.register_forward_hook(hook))
    return hooks


@torch.no_grad()
def evaluate(model, stream, seq_len, batch, device, amp):
    """Mean next-token loss over non-overlapping windows of the whole stream (deterministic)."""
    model.eval()
    n = (len(stream) - 1) // seq_len
    x = stream[: n * seq_len].view(n, seq_len)
    y = stream[1: n * seq_len + 1].view(n, seq_len)
    tot, cnt = 0.0, 0
    for i in range(0, n, batch):
        xb, yb = x[i:i + batch].to(device), y[i:i + batch].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(input_ids=xb, use_cache=False, logits_to_keep=0).logits
        tot += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="sum").item()
        cnt += yb.numel()
    model.train()
    return tot / cnt


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(here, "data"), help="train.txt, val.txt, tokenizer files")
    ap.add_argument("--out", default=os.path.join(here, "out", "hf"))
    ap.add_argument("--seed", type=int, default=1234)
    # model
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hybrid", default="1,3,5", help="indices of the hybrid layers")
    ap.add_argument("--ffn", type=int, default=512, help="shared MLP width")
    ap.add_argument("--d-state", type=int, default=64)
    ap.add_argument("--mamba-headdim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--adapter-rank", type=int, default=8)
    ap.add_argument("--max-positions", type=int, default=1024)
    # training
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--time-limit", type=float, default=0, help="stop training after this many seconds (0: none)")
    ap.add_argument("--bench", type=int, default=0, help="time this many steps, print s/step, exit")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--sample-tokens", type=int, default=80)
    args = ap.parse_args()

    import transformers
    from tokenizers import Tokenizer
    from transformers import Zamba2ForCausalLM

    device = torch.device(args.device)
    amp = device.type == "cuda"
    if amp:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    fh = None if args.bench else open(os.path.join(args.out, "train_log.txt"), "w")
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if amp else ""), fh)
    log("args: " + json.dumps(vars(args)), fh)

    tok = Tokenizer.from_file(os.path.join(args.data, "tokenizer.json"))
    eot = tok.token_to_id("<|endoftext|>")
    train = load_stream(os.path.join(args.data, "train.txt"), tok, eot)
    val = load_stream(os.path.join(args.data, "val.txt"), tok, eot)
    log(f"tokens: train {len(train)}, val {len(val)}; vocab {tok.get_vocab_size()}", fh)

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    config = build_config(args, tok.get_vocab_size())
    model = Zamba2ForCausalLM(config)
    model.config._attn_implementation = "sdpa" if amp else "eager"
    model.to(device).train()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"params: {n_params} (unique, embeddings tied); layers {config.layers_block_type}", fh)
    hooks = add_dropout_hooks(model, args.dropout)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed_tokens" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed_tokens" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=amp,
    )

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))

    gen = torch.Generator().manual_seed(args.seed + 1)
    T = args.seq_len
    train_probe = train[: len(val)]  # a fixed train slice the size of val, for a like-for-like loss

    def batch():
        idx = torch.randint(0, len(train) - T - 1, (args.batch,), generator=gen)
        b = torch.stack([train[i:i + T + 1] for i in idx])
        return b[:, :-1].to(device, non_blocking=True), b[:, 1:].to(device, non_blocking=True)

    def step_fn(step):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x, y = batch()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(input_ids=x, use_cache=False, logits_to_keep=0).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        return loss, gn

    if args.bench:
        for s in range(3):
            step_fn(s)
        if amp:
            torch.cuda.synchronize()
        t0 = time.time()
        for s in range(args.bench):
            loss, _ = step_fn(s)
        loss.item()
        dt = (time.time() - t0) / args.bench
        print(f"BENCH s_per_step={dt:.4f} tokens_per_s={args.batch * T / dt:.0f} loss={loss.item():.3f}")
        if amp:
            print(f"BENCH max_mem_gb={torch.cuda.max_memory_allocated() / 1e9:.2f}")
        return

    best = (float("inf"), -1, None)
    history = []
    t0 = time.time()
    run_loss, run_n = 0.0, 0
    step = 0
    for step in range(args.steps):
        loss, gn = step_fn(step)
        run_loss += loss.item() if (step % 10 == 0) else 0.0
        run_n += 1 if (step % 10 == 0) else 0
        last = step == args.steps - 1
        over = args.time_limit and time.time() - t0 > args.time_limit
        if (step + 1) % args.eval_every == 0 or last or over:
            vl = evaluate(model, val, T, 64, device, amp)
            tl = evaluate(model, train_probe, T, 64, device, amp)
            el = time.time() - t0
            history.append({"step": step + 1, "train_loss": tl, "val_loss": vl, "lr": lr_at(step), "time_s": el,
                            "train_batch_loss_avg": run_loss / max(1, run_n)})
            mark = ""
            if vl < best[0]:
                best = (vl, step + 1, {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()})
                mark = " *"
            log(f"step {step + 1:5d}  lr {lr_at(step):.2e}  batch-loss {run_loss / max(1, run_n):.4f}  "
                f"train {tl:.4f}  val {vl:.4f} (ppl {math.exp(vl):.2f})  gnorm {gn.item():.2f}  {el:.0f}s{mark}", fh)
            run_loss, run_n = 0.0, 0
        if over:
            log(f"time limit reached after step {step + 1}", fh)
            break
    train_time = time.time() - t0
    for h in hooks:
        h.remove()

    # Final: restore the best checkpoint, measure, save, sample.
    model.load_state_dict(best[2])
    model.float().eval()
    vl = evaluate(model, val, T, 64, device, False)
    tl = evaluate(model, train_probe, T, 64, device, False)
    metrics = {
        "params": n_params, "best_step": best[1], "steps_run": step + 1, "train_time_s": round(train_time, 1),
        "device": torch.cuda.get_device_name(device) if amp else "cpu",
        "val_loss": vl, "val_ppl": math.exp(vl), "train_loss": tl, "train_ppl": math.exp(tl),
        "val_tokens": len(val), "train_tokens": len(train), "seq_len": T, "eval": "fp32, non-overlapping windows",
        "history": history,
    }
    log(f"best step {best[1]}: fp32 train loss {tl:.4f} (ppl {math.exp(tl):.2f}), "
        f"val loss {vl:.4f} (ppl {math.exp(vl):.2f}); training {train_time:.0f}s", fh)

    model.save_pretrained(args.out)
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(args.data, f), os.path.join(args.out, f))
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")

    prompts = ["In the beginning", "And God said", "The LORD is my shepherd", "Jesus answered and said unto them,",
               "Blessed are the"]
    out_lines = []
    for prompt in prompts:
        ids = torch.tensor([[eot] + tok.encode(prompt).ids], device=device)
        for mode in ("greedy", "t=0.8"):
            torch.manual_seed(args.seed)
            with torch.no_grad():
                g = model.generate(ids, max_new_tokens=args.sample_tokens, do_sample=(mode != "greedy"),
                                   temperature=0.8 if mode != "greedy" else None, top_k=0 if mode != "greedy" else None,
                                   top_p=None, pad_token_id=1, eos_token_id=eot)
            text = tok.decode(g[0, 1:].tolist())
            out_lines.append(f"### {mode} | {prompt}\n{text}\n")
    samples = "\n".join(out_lines)
    with open(os.path.join(args.out, "samples.txt"), "w") as f:
        f.write(samples)
    log(samples, fh)
    fh.close()


if __name__ == "__main__":
    sys.exit(main())
