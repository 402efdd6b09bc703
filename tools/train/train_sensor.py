#!/usr/bin/env python3
"""Train weft's bundled demo sensor model: a small Mamba-2 that reads 6-channel IMU-like frames
(accelerometer x/y/z in g, gyroscope x/y/z in rad/s, 50 Hz) through an input projection and
predicts the next frame with a regression head. Its prediction error is an anomaly score.

    frame_in: Linear(6 -> E)  ->  Mamba-2 backbone (transformers Mamba2Model, inputs_embeds)
    -> final RMSNorm (backbone.norm_f)  ->  frame_out: Linear(E -> 6)  = prediction of frame t+1

Data are synthetic walking signals (`gait`): a stride frequency s = cadence / 2 with cadence
1.4-2.2 steps/s drifting slowly within a sequence, per-channel harmonics 1..4 of s with
per-sequence amplitude and phase jitter, gravity and tilt offsets, Gaussian sensor noise. Every
array comes from a seeded numpy Generator, so the data are identical on every machine; training
batches are fresh sequences (there is no fixed training set to overfit).

Per-channel normalisation (mean/std over a fixed batch) is used in training and folded into
frame_in / frame_out at export, so the exported model takes and predicts raw frames. The anomaly
score of frame t is mean_c ((x[t,c] - pred[t-1,c]) / scale_c)^2 with scale_c = the RMS
validation residual of channel c (about 1 on normal data); the threshold is a high percentile of
validation scores after a warm-up. Both go to config.json (-> GGUF metadata, docs/gguf.md).

Outputs (in --out): an HF-style folder (config.json with architectures
["Mamba2ForFrameRegression"], model.safetensors with frame_in.*, backbone.*, frame_out.*) that
`weft convert --type f32` turns into the GGUF; metrics.json; train_log.txt; sensor.ref.json
(frames + outputs of the exported float32 model, for weft's parity test); sample.csv (a stream
with injected anomalies, for `weft stream` examples).

Usage (defaults = the committed model; see tools/train/README.md):
  python3 tools/train/train_sensor.py --out tools/train/out/sensor
  weft convert tools/train/out/sensor models/demo-sensor.gguf --type f32
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn

FS = 50.0  # Hz
CHANNELS = ["ax", "ay", "az", "gx", "gy", "gz"]
# Amplitude of harmonic k (k = 1..4 of the stride frequency) per channel: vertical acceleration
# and pitch follow the step (k = 2, 4), lateral acceleration, roll and yaw the stride (k = 1, 3).
HARMONICS = np.array([
    [0.06, 0.22, 0.04, 0.08],  # ax forward
    [0.12, 0.03, 0.05, 0.02],  # ay lateral
    [0.03, 0.35, 0.05, 0.12],  # az vertical
    [0.45, 0.05, 0.15, 0.03],  # gx roll
    [0.05, 0.60, 0.04, 0.20],  # gy pitch
    [0.30, 0.04, 0.10, 0.02],  # gz yaw
], dtype=np.float64)
NOISE = np.array([0.02, 0.02, 0.02, 0.03, 0.03, 0.03])
GRAVITY = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0])


def gait(rng, n, cadence=None):
    """One walking sequence of n frames, [n, 6] float64, from Generator rng."""
    f0 = rng.uniform(1.4, 2.2) if cadence is None else cadence  # steps/s
    amp = rng.uniform(0.7, 1.3)
    jitter = rng.uniform(0.75, 1.25, size=HARMONICS.shape)
    phase = rng.uniform(0, 2 * np.pi, size=HARMONICS.shape)
    offset = GRAVITY + np.concatenate([rng.uniform(-0.15, 0.15, 3), rng.uniform(-0.05, 0.05, 3)])
    drift_period = rng.uniform(4.0, 12.0)  # s
    drift_phase = rng.uniform(0, 2 * np.pi)
    t = np.arange(n) / FS
    cadence_t = f0 * (1.0 + 0.04 * np.sin(2 * np.pi * t / drift_period + drift_phase))
    stride_phase = 2 * np.pi * np.cumsum(cadence_t / 2.0) / FS  # stride = 2 steps
    k = np.arange(1, 5)
    # [n, 4] harmonics of the stride phase, then per channel
    x = np.empty((n, 6))
    for c in range(6):
        waves = np.sin(stride_phase[:, None] * k[None, :] + phase[c][None, :])
        x[:, c] = offset[c] + amp * (waves * (HARMONICS[c] * jitter[c])[None, :]).sum(1)
    x += rng.normal(size=(n, 6)) * NOISE[None, :]
    return x


def inject(rng, x, n_events):
    """Injects anomalies into a copy of x: spikes, dropouts (zeros), cadence shifts. Returns
    (x, labels [n] bool, events [(kind, start, end)])."""
    x = x.copy()
    n = len(x)
    labels = np.zeros(n, dtype=bool)
    events = []
    kinds = ["spike", "dropout", "shift"]
    slot = n // n_events
    for e in range(n_events):
        kind = kinds[e % 3]
        lo = e * slot + 100
        if kind == "spike":
            start = int(rng.integers(lo, lo + slot - 200))
            length = int(rng.integers(1, 3))
            ch = rng.choice(6, size=int(rng.integers(1, 4)), replace=False)
            for c in ch:
                x[start:start + length, c] += rng.choice([-1, 1]) * rng.uniform(1.0, 2.5)
        elif kind == "dropout":
            start = int(rng.integers(lo, lo + slot - 200))
            length = int(rng.integers(10, 26))
            x[start:start + length] = 0.0
        else:
            start = int(rng.integers(lo, lo + slot - 250))
            length = int(rng.integers(75, 150))
            fast = gait(rng, length, cadence=rng.uniform(3.2, 4.0))
            x[start:start + length] = fast
        labels[start:start + length] = True
        events.append((kind, start, start + length))
    return x, labels, events


class SensorModel(nn.Module):
    def __init__(self, config, frame_dim):
        super().__init__()
        from transformers import Mamba2Model

        self.frame_in = nn.Linear(frame_dim, config.hidden_size)
        self.backbone = Mamba2Model(config)
        self.frame_out = nn.Linear(config.hidden_size, frame_dim)

    def forward(self, frames):  # [B, T, F] -> [B, T, F] (prediction of the next frame)
        h = self.backbone(inputs_embeds=self.frame_in(frames)).last_hidden_state
        return self.frame_out(h)


class FastMamba2Mixer(nn.Module):
    """transformers' Mamba2Mixer (n_groups = 1, no cache) with the same parameter names, but the
    scan computed in its quadratic "attention" form over the whole window: for T of a few hundred
    this is much faster on a CPU than the chunked reference path transformers falls back to
    without mamba_ssm. `check_fast_path` compares the two."""

    def __init__(self, c):
        super().__init__()
        self.h, self.p, self.n = c.num_heads, c.head_dim, c.state_size
        self.inner = c.num_heads * c.head_dim
        conv_dim = self.inner + 2 * self.n
        self.in_proj = nn.Linear(c.hidden_size, 2 * self.inner + 2 * self.n + self.h, bias=False)
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, c.conv_kernel, groups=conv_dim, padding=c.conv_kernel - 1)
        self.dt_bias = nn.Parameter(torch.ones(self.h))
        self.A_log = nn.Parameter(torch.zeros(self.h))
        self.D = nn.Parameter(torch.ones(self.h))
        self.norm = nn.Module()
        self.norm.weight = nn.Parameter(torch.ones(self.inner))
        self.eps = c.layer_norm_epsilon
        self.out_proj = nn.Linear(self.inner, c.hidden_size, bias=False)

    def forward(self, u):  # [B, T, E]
        b, t, _ = u.shape
        z, xbc, dt = self.in_proj(u).split([self.inner, self.inner + 2 * self.n, self.h], -1)
        xbc = nn.functional.silu(self.conv1d(xbc.transpose(1, 2))[..., :t].transpose(1, 2))
        x, bm, cm = xbc.split([self.inner, self.n, self.n], -1)
        dt = nn.functional.softplus(dt + self.dt_bias)  # [B, T, H]
        a = dt * -torch.exp(self.A_log)  # [B, T, H]
        cum = torch.cumsum(a, 1).transpose(1, 2)  # [B, H, T]
        seg = cum[..., :, None] - cum[..., None, :]  # [B, H, T, S]
        causal = torch.ones(t, t, dtype=torch.bool, device=u.device).tril()
        decay = torch.exp(seg.masked_fill(~causal, float("-inf")))
        cb = cm @ bm.transpose(1, 2)  # [B, T, S]
        w = decay * cb[:, None] * dt.transpose(1, 2)[:, :, None, :]  # [B, H, T, S]
        xh = x.view(b, t, self.h, self.p).transpose(1, 2)  # [B, H, T, P]
        y = w @ xh + self.D[None, :, None, None] * xh
        y = y.transpose(1, 2).reshape(b, t, self.inner)
        y = y * nn.functional.silu(z)
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps) * self.norm.weight
        return self.out_proj(y)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


class FastBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = RMSNorm(c.hidden_size, c.layer_norm_epsilon)
        self.mixer = FastMamba2Mixer(c)

    def forward(self, h):
        return h + self.mixer(self.norm(h))


class FastSensorModel(nn.Module):
    """SensorModel with FastMamba2Mixer layers; its state_dict keys are SensorModel's."""

    def __init__(self, config, frame_dim):
        super().__init__()
        self.frame_in = nn.Linear(frame_dim, config.hidden_size)
        self.backbone = nn.Module()
        self.backbone.layers = nn.ModuleList(FastBlock(config) for _ in range(config.num_hidden_layers))
        self.backbone.norm_f = RMSNorm(config.hidden_size, config.layer_norm_epsilon)
        self.frame_out = nn.Linear(config.hidden_size, frame_dim)

    def forward(self, frames):
        h = self.frame_in(frames)
        for layer in self.backbone.layers:
            h = layer(h)
        return self.frame_out(self.backbone.norm_f(h))


def build_config(args):
    from transformers import Mamba2Config

    inner = 2 * args.hidden
    return Mamba2Config(
        vocab_size=8,  # unused: frames come in through frame_in; the embedding is not exported
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        state_size=args.d_state,
        expand=2,
        head_dim=args.head_dim,
        num_heads=inner // args.head_dim,
        n_groups=1,
        conv_kernel=4,
        chunk_size=64,
        use_bias=False,
        use_conv_bias=True,
        layer_norm_epsilon=1e-5,
        residual_in_fp32=True,
        tie_word_embeddings=False,
    )


def log(msg, fh=None):
    print(msg, flush=True)
    if fh:
        fh.write(msg + "\n")
        fh.flush()


def batch(rng, b, n):
    return np.stack([gait(rng, n) for _ in range(b)])


@torch.no_grad()
def predict(model, x):
    """x [B, T, F] float64 raw -> predictions [B, T, F] float64 raw (model is the exported one)."""
    return model(torch.tensor(x, dtype=torch.float32)).double().numpy()


def windowed_predict(model, x, window):
    """Predictions for a long stream x [T, F] as weft's AnomalyDetector makes them: two states,
    one restarted every `window` frames, the other offset by window/2; each frame's prediction
    comes from the one with the longer context (window/2 .. window frames, as in training)."""
    n, half = len(x), window // 2

    def chunks(start):
        pred, age = np.zeros_like(x), np.full(n, -1)
        bounds = sorted(set([start] + list(range(start, n, window)))) + [n]
        for s, e in zip(bounds[:-1], bounds[1:]):
            pred[s:e] = predict(model, x[s:e][None])[0]
            age[s:e] = np.arange(e - s)
        return pred, age

    (pa, aa), (pb, ab) = chunks(0), chunks(half)
    return np.where((ab > aa)[:, None], pb, pa)


def scores(pred, x, scale):
    """Anomaly score of every frame t >= 1: mean_c ((x[t] - pred[t-1]) / scale)^2; score[0] = 0."""
    err = (x[..., 1:, :] - pred[..., :-1, :]) / scale
    s = (err ** 2).mean(-1)
    return np.concatenate([np.zeros(s.shape[:-1] + (1,)), s], axis=-1)


def auroc(score, labels):
    """Area under the ROC curve (ties count half), by ranks."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    s = score[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels.sum()
    neg = len(labels) - pos
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def exported_state(model):
    """The state dict without the unused token embedding."""
    return {k: v.detach().contiguous() for k, v in model.state_dict().items()
            if not k.startswith("backbone.embeddings")}


def fold(model, mean, std):
    """Folds input/output normalisation into frame_in / frame_out (in place)."""
    with torch.no_grad():
        m = torch.tensor(mean, dtype=torch.float32)
        s = torch.tensor(std, dtype=torch.float32)
        w, b = model.frame_in.weight, model.frame_in.bias  # y = W (x - m)/s + b
        b.copy_(b - (w / s[None, :]) @ m)
        w.copy_(w / s[None, :])
        w, b = model.frame_out.weight, model.frame_out.bias  # x = s (W h + b) + m
        w.copy_(w * s[:, None])
        b.copy_(b * s + m)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tools/train/out/sensor")
    ap.add_argument("--stage", choices=["all", "train", "export"], default="all",
                    help="train: only train (writes trained.pt); export: evaluate + export trained.pt")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--d-state", type=int, default=16)
    ap.add_argument("--head-dim", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--time-limit", type=float, default=0, help="stop training after this many seconds")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--percentile", type=float, default=99.9,
                    help="threshold = this percentile of validation scores")
    ap.add_argument("--warmup", type=int, default=16, help="frames never flagged at the start")
    ap.add_argument("--bench", type=int, default=0, help="only time this many steps")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    if args.stage in ("all", "train"):
        train(args)
    if args.stage in ("all", "export") and not args.bench:
        export(args)


def norm_stats(args):
    x = batch(np.random.default_rng(args.seed + 2), 64, 512).reshape(-1, len(CHANNELS))
    return x.mean(0), x.std(0)


def val_set(args):
    return batch(np.random.default_rng(args.seed + 1), 32, 256)


def train(args):
    import transformers

    dev = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(args.seed)
    fh = None if args.bench else open(os.path.join(args.out, "train_log.txt"), "w")
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, device {dev}"
        + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else f", {args.threads} threads"), fh)
    log("args: " + json.dumps(vars(args)), fh)

    F = len(CHANNELS)
    train_rng = np.random.default_rng(args.seed)
    mean, std = norm_stats(args)
    val = val_set(args)
    valn = torch.tensor((val - mean) / std, dtype=torch.float32, device=dev)

    config = build_config(args)
    # transformers' Mamba2 initialisation, trained through the fast (same-parameter) module.
    model = SensorModel(config, F)
    n_params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    fast = FastSensorModel(config, F)
    fast.load_state_dict(exported_state(model))
    fast.to(dev)
    log(f"params: {n_params} (without the unused token embedding)", fh)

    opt = torch.optim.AdamW(fast.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.95))
    warm = 100

    def lr_at(step):
        if step < warm:
            return args.lr * (step + 1) / warm
        p = (step - warm) / max(1, args.steps - warm)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))

    def val_loss():
        fast.eval()
        with torch.no_grad():
            pred = torch.cat([fast(v) for v in valn.split(8)])
            loss = ((pred[:, args.warmup:-1] - valn[:, args.warmup + 1:]) ** 2).mean().item()
        fast.train()
        return loss

    # Baseline in normalised units (frames after the warm-up): predict the previous frame.
    persist = float((((val[:, args.warmup + 1:] - val[:, args.warmup:-1]) / std) ** 2).mean())
    log(f"val baseline (repeat last frame): {persist:.4f}", fh)
    t0 = time.time()
    steps = args.bench or args.steps
    done = 0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x = torch.tensor((batch(train_rng, args.batch, args.seq + 1) - mean) / std,
                         dtype=torch.float32, device=dev)
        pred = fast(x[:, :-1])
        loss = ((pred - x[:, 1:]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(fast.parameters(), 1.0)
        opt.step()
        done = step + 1
        if step % 250 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.5f} val {val_loss():.5f} lr {lr_at(step):.2e} "
                f"{time.time() - t0:.0f}s", fh)
        if args.time_limit and time.time() - t0 > args.time_limit:
            log(f"time limit reached after {done} steps", fh)
            break
    if args.bench:
        log(f"{(time.time() - t0) / steps:.4f} s/step")
        return
    final_val = val_loss()
    train_time = time.time() - t0
    log(f"trained {done} steps in {train_time:.0f}s; val mse (normalised) {final_val:.5f} "
        f"(baseline {persist:.4f})", fh)
    torch.save({
        "state": {k: v.detach().cpu() for k, v in fast.state_dict().items()},
        "n_params": n_params, "steps": done, "train_seconds": round(train_time, 1),
        "val_mse_normalised": final_val, "val_mse_baseline_repeat_last": persist,
        "device": str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
    }, os.path.join(args.out, "trained.pt"))
    fh.close()


def export(args):
    F = len(CHANNELS)
    fh = open(os.path.join(args.out, "export_log.txt"), "w")
    trained = torch.load(os.path.join(args.out, "trained.pt"))
    mean, std = norm_stats(args)
    val = val_set(args)
    valn = torch.tensor((val - mean) / std, dtype=torch.float32)
    config = build_config(args)
    model = SensorModel(config, F)
    fast = FastSensorModel(config, F)
    fast.load_state_dict(trained["state"])
    # Into transformers' Mamba2Model; check that both compute the same, then export with the
    # normalisation folded in, so the model reads and predicts raw frames.
    model.load_state_dict(trained["state"], strict=False)
    model.eval()
    fast.eval()
    with torch.no_grad():
        diff = (model(valn[:4]) - fast(valn[:4])).abs().max().item()
    log(f"transformers Mamba2Model vs the fast training module (CPU float32): max |diff| {diff:.2e}", fh)
    assert diff < 1e-4, diff
    fold(model, mean, std)
    pred = predict(model, val)
    resid = val[:, args.warmup + 1:] - pred[:, args.warmup:-1]
    mse_raw = float((((resid) / std) ** 2).mean())
    scale = np.sqrt((resid ** 2).reshape(-1, F).mean(0))
    sc = scores(pred, val, scale)[:, args.warmup + 1:].ravel()
    threshold = float(np.percentile(sc, args.percentile))
    log(f"val mse (normalised, exported model) {mse_raw:.5f} vs baseline "
        f"{trained['val_mse_baseline_repeat_last']:.4f}; residual rms per channel "
        f"{np.round(scale, 4).tolist()}; threshold (p{args.percentile}) {threshold:.3f}", fh)

    # Long normal stream: no drift of the error over time, false-alarm rate per frame.
    # One state over the whole stream drifts past the trained length; the windowed detector
    # (two staggered states) keeps every prediction within it.
    long = gait(np.random.default_rng(args.seed + 3), 3000)
    raw_sc = scores(predict(model, long[None])[0], long, scale)
    raw_fa = float((raw_sc[args.warmup + 1:] > threshold).mean())
    log(f"3000-frame normal stream, one state: mean score frames <1000 "
        f"{raw_sc[args.warmup + 1:1000].mean():.3f}, >=2000 {raw_sc[2000:].mean():.3f}; "
        f"false alarms per frame {raw_fa:.4f}", fh)
    long_sc = scores(windowed_predict(model, long, args.seq), long, scale)
    fa = float((long_sc[args.warmup + 1:] > threshold).mean())
    first, last = long_sc[args.warmup + 1:1000].mean(), long_sc[2000:].mean()
    log(f"3000-frame normal stream, windowed ({args.seq}): mean score frames <1000 {first:.3f}, "
        f">=2000 {last:.3f}; false alarms per frame {fa:.4f}", fh)

    # Stream with injected anomalies (the same kinds as examples/sensor_stream.rs).
    rng = np.random.default_rng(args.seed + 4)
    clean = gait(rng, 3000)
    dirty, labels, events = inject(rng, clean, 9)
    dsc = scores(windowed_predict(model, dirty, args.seq), dirty, scale)
    roc = auroc(dsc[args.warmup + 1:], labels[args.warmup + 1:])
    log(f"injected anomalies (9 events, {labels.sum()} frames): AUROC {roc:.4f}", fh)
    per_kind = {}
    for kind in ("spike", "dropout", "shift"):
        keep = np.ones(len(labels), dtype=bool)
        for k, s, e in events:
            if k != kind:
                keep[s:e] = False
        keep[:args.warmup + 1] = False
        per_kind[kind] = auroc(dsc[keep], labels[keep])
        log(f"  {kind}: AUROC {per_kind[kind]:.4f}", fh)

    metrics = {k: trained[k] for k in ("n_params", "steps", "train_seconds", "device",
                                       "val_mse_normalised", "val_mse_baseline_repeat_last")}
    metrics.update({
        "val_mse_normalised_exported": mse_raw,
        "residual_rms": scale.tolist(),
        "threshold": threshold,
        "threshold_percentile": args.percentile,
        "warmup": args.warmup,
        "long_stream_mean_score_early": float(first),
        "long_stream_mean_score_late": float(last),
        "long_stream_false_alarms_per_frame": fa,
        "long_stream_false_alarms_per_frame_one_state": raw_fa,
        "context": args.seq,
        "injected_auroc": roc,
        "injected_auroc_per_kind": per_kind,
    })
    short_rng = np.random.default_rng(args.seed + 6)
    sample, _, sample_events = inject(short_rng, gait(short_rng, 1000), 3)
    save(args, model, config, scale, threshold, metrics, sample, sample_events)
    fh.close()


def save(args, model, config, scale, threshold, metrics, sample, events):
    from safetensors.torch import save_file

    out = args.out
    save_file(exported_state(model), os.path.join(out, "model.safetensors"))
    cfg = config.to_dict()
    for k in ("transformers_version", "bos_token_id", "eos_token_id", "pad_token_id"):
        cfg.pop(k, None)  # no tokenizer: frames in, frames out
    cfg.update({
        "architectures": ["Mamba2ForFrameRegression"],
        "frame_dim": len(CHANNELS),
        "frame_channels": CHANNELS,
        "frame_rate_hz": FS,
        "anomaly_threshold": threshold,
        "anomaly_error_scale": scale.tolist(),
        "anomaly_warmup": args.warmup,
        "anomaly_context": args.seq,
    })
    cfg.pop("time_step_limit", None)  # the default (0, inf): no clamp; inf is not JSON
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, allow_nan=False)
        f.write("\n")
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    # Reference for weft's parity test: 24 frames of a fixed sequence and the float32 outputs.
    frames = gait(np.random.default_rng(args.seed + 5), 24)
    outputs = predict(model, frames[None])[0]
    ref = {
        "note": "outputs of the exported float32 model (transformers Mamba2Model torch path, CPU) "
                "for these frames fed one per step from a fresh state",
        "frames": np.round(frames, 6).tolist(),
        "outputs": [[float(f"{v:.7g}") for v in row] for row in outputs],
    }
    # frames are rounded; recompute outputs on the rounded frames so the reference is exact.
    ref["outputs"] = [[float(f"{v:.7g}") for v in row]
                      for row in predict(model, np.array(ref["frames"])[None])[0]]
    with open(os.path.join(out, "sensor.ref.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")
    with open(os.path.join(out, "sample.csv"), "w") as f:
        f.write("# synthetic 50 Hz walk with injected anomalies: "
                + "; ".join(f"{k} frames {s}-{e - 1}" for k, s, e in events) + "\n")
        f.write(",".join(CHANNELS) + "\n")
        for row in sample:
            f.write(",".join(f"{v:.4f}" for v in row) + "\n")


if __name__ == "__main__":
    main()
