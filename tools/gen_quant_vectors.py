#!/usr/bin/env python3
"""Generate reference vectors for weft-kernels' quantization tests.

Uses gguf-py's `gguf.quants` (llama.cpp's numpy port of ggml's reference quantizers, bit-exact
with `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` and the `dequantize_row_*` functions).

Run from anywhere:  python3 tools/gen_quant_vectors.py
Installs `gguf` and `numpy` with pip if they are missing. Writes
kernels/tests/fixtures/quant_vectors.bin (a few KB, committed). Deterministic (fixed seed).

File format (all little-endian):
    b"WQV1", u32 record_count, then per record:
    u32 ggml_type_id, u32 n_elems, u32 n_bytes, u32 has_src, u32 name_len, name (utf-8),
    [f32 src[n_elems] if has_src], u8 bytes[n_bytes], f32 deq[n_elems]
For records with a source, `bytes = quantize(src)` and `deq = dequantize(bytes)`; without one
(Q4_K, Q6_K: weft only dequantizes them) `bytes` are random valid blocks.
"""

import os
import struct
import subprocess
import sys

try:
    import numpy as np
    from gguf import GGMLQuantizationType as T
    from gguf import quants
except ImportError:  # fresh machine
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "gguf", "numpy"])
    import numpy as np
    from gguf import GGMLQuantizationType as T
    from gguf import quants

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kernels", "tests", "fixtures",
                   "quant_vectors.bin")

rng = np.random.default_rng(20250611)
records = []


def f32(a):
    return np.asarray(a, dtype=np.float32).reshape(-1)


def add_quant(ty, name, src):
    src = f32(src)
    with np.errstate(over="ignore"):  # f16 specials overflow to inf on purpose
        q = quants.quantize(src.reshape(1, -1), ty).reshape(-1).view(np.uint8)
    deq = f32(quants.dequantize(q.reshape(1, -1), ty))
    records.append((ty, name, src, q.tobytes(), deq))


def add_deq(ty, name, blocks):
    blocks = np.asarray(blocks, dtype=np.uint8).reshape(-1)
    deq = f32(quants.dequantize(blocks.reshape(1, -1), ty))
    records.append((ty, name, None, blocks.tobytes(), deq))


def normal(n, scale=1.0):
    return rng.standard_normal(n).astype(np.float32) * np.float32(scale)


def block_of(values, fill=0.0):
    b = np.full(32, fill, dtype=np.float32)
    b[: len(values)] = values
    return b


# --- plain float types -----------------------------------------------------------------------
specials = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 65520.0, 1e-8, 5.96e-8, 2.9e-8, 1e-40,
            1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 3.4e38,
            np.inf, -np.inf]
add_quant(T.F32, "f32 random + specials", np.concatenate([normal(16), f32(specials)]))
add_quant(T.F16, "f16 random + specials", np.concatenate([normal(16, 10.0), f32(specials)]))
bf16_nans = np.array([0x7F800001, 0xFF800001, 0x7FC00000, 0x7FFFFFFF], dtype=np.uint32).view(np.float32)
add_quant(T.BF16, "bf16 random + specials + nans",
          np.concatenate([normal(16, 10.0), f32(specials), bf16_nans]))

# --- Q8_0 / Q4_0 -------------------------------------------------------------------------------
for ty in (T.Q8_0, T.Q4_0):
    tn = ty.name
    add_quant(ty, f"{tn} random blocks at several scales",
              np.concatenate([normal(32, s) for s in (1.0, 0.01, 100.0)]))
    add_quant(ty, f"{tn} all zeros", np.zeros(32))
    one_large = normal(32, 0.01)
    one_large[13] = 1000.0
    add_quant(ty, f"{tn} one large value", one_large)
    neg_max = rng.uniform(-10, 10, 32).astype(np.float32)
    neg_max[21] = -50.0
    add_quant(ty, f"{tn} negative max", neg_max)
    add_quant(ty, f"{tn} tiny values (d underflows fp16)", normal(64, 1e-30))
    add_quant(ty, f"{tn} small values (d is an fp16 subnormal)", normal(64, 1e-6))
    ties = block_of([1.0, 5.0, -2.0, -5.0, 3.0])
    add_quant(ty, f"{tn} equal |max| of both signs", np.concatenate([ties, -ties]))

# Rounding boundaries: with amax = 127 Q8_0 has d = 1, id = 1, so x·id = k + 0.5 exactly and
# roundf must round half away from zero.
half8 = [127.0] + [k + 0.5 for k in range(-8, 8)] + [126.5, -126.5, 0.49999997, -0.49999997,
                                                       2.5, -2.5, 100.5, -100.5, 63.5, -63.5,
                                                       0.0, -127.0, 1.5, -1.5, 3.5]
add_quant(T.Q8_0, "Q8_0 values at .5 rounding boundaries", block_of(half8[:32]))
# With max = -8 Q4_0 has d = 1, id = 1: x + 8.5 is an exact integer for x = k − 0.5 (truncation
# boundary), and 7.5 .. 8 saturates at 15.
half4 = [-8.0] + [k - 0.5 for k in range(-7, 9)] + [7.75, 8.0, -7.999, 0.0, -0.0, 3.4999998,
                                                    -3.5000002, 1e-7, -1e-7, 7.4999995, -7.5,
                                                    6.5, 2.5, 4.5]
add_quant(T.Q4_0, "Q4_0 values at truncation boundaries", block_of(half4[:32]))

# --- Q4_K / Q6_K: random valid blocks (weft only dequantizes these) --------------------------
def fp16_bytes(x):
    return np.array([x], dtype=np.float16).view(np.uint8)


def q4_k_block(d, dmin, fill=None):
    b = rng.integers(0, 256, 144, dtype=np.uint8) if fill is None else np.full(144, fill, np.uint8)
    b[0:2] = fp16_bytes(d)
    b[2:4] = fp16_bytes(dmin)
    return b


def q6_k_block(d, fill=None):
    b = rng.integers(0, 256, 210, dtype=np.uint8) if fill is None else np.full(210, fill, np.uint8)
    b[208:210] = fp16_bytes(d)
    return b


add_deq(T.Q4_K, "Q4_K random blocks",
        np.concatenate([q4_k_block(rng.standard_normal() * 0.01, abs(rng.standard_normal()) * 0.01)
                        for _ in range(2)]))
add_deq(T.Q4_K, "Q4_K edge blocks (all bits set, negative d and dmin)",
        np.concatenate([q4_k_block(0.5, 0.25, 0xFF), q4_k_block(-0.03, -0.002)]))
add_deq(T.Q6_K, "Q6_K random blocks",
        np.concatenate([q6_k_block(rng.standard_normal() * 0.01) for _ in range(2)]))
add_deq(T.Q6_K, "Q6_K edge blocks (all bits set, tiny d)",
        np.concatenate([q6_k_block(0.5, 0xFF), q6_k_block(1e-6)]))


# --- write -------------------------------------------------------------------------------------
def main():
    out = bytearray(b"WQV1")
    out += struct.pack("<I", len(records))
    for ty, name, src, qbytes, deq in records:
        nb = name.encode()
        out += struct.pack("<5I", int(ty), deq.size, len(qbytes), src is not None, len(nb)) + nb
        if src is not None:
            out += src.astype("<f4").tobytes()
        out += qbytes
        out += deq.astype("<f4").tobytes()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(out)
    print(f"wrote {len(records)} records, {len(out)} bytes to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
