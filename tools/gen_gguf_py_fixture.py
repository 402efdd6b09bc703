#!/usr/bin/env python3
"""Write GGUF files with llama.cpp's own Python writer (the `gguf` package, gguf-py) so weft's GGUF reader
and loaders are tested against an independent writer.

    pip install -r tools/requirements-fixtures.txt
    python tools/gen_gguf_py_fixture.py          # needs tests/fixtures/{mamba2_a,mamba1_a} (tools/gen_fixtures.py)

Outputs (tests/fixtures/gguf_py/):
    mamba2_a.gguf        arch "mamba2", all tensors F32, converted from tests/fixtures/mamba2_a/model.safetensors
    mamba2_a.q8_0.gguf   same, with the matrices llama.cpp would quantize stored as Q8_0 (gguf.quants.quantize)
    mamba1_a.gguf        arch "mamba", all F32, from tests/fixtures/mamba1_a (tied: no output.weight)
    expected.json        for every file: every metadata key (type + value) and every tensor
                         (name, GGML dims ne0.., type, offset, nbytes, sha256 of the raw bytes, float64 sum and
                         first 4 values of the (dequantized) data)

Keys, tensor names and transforms are exactly those of llama.cpp's converter (convert_hf_to_gguf.py,
conversion/mamba.py MambaModel / Mamba2Model): A = -exp(A_log); conv1d weight squeezed [C,1,K] -> [C,K];
Mamba-2 A and D reshaped to (H,1), gated-norm weight to (G, I/G), dt_bias written as ssm_dt.bias;
Mamba-1 output.weight omitted when equal to token_embd; context_length = 2**20, feed_forward_length = 0,
head_count = 0, Mamba-2 time_step_rank = d_inner // head_dim (= number of SSM heads).
Names are taken from gguf-py's own tables (gguf.TENSOR_NAMES / GGUFWriter.add_* key helpers).

Not reproduced: the tokenizer. With no tokenizer files llama.cpp's converter embeds its bundled GPT-NeoX vocab
(50k tokens) which does not fit these tiny vocabularies; these files carry no tokenizer.ggml.* keys.
Extra keys under `weft.test.` exercise every GGUF value type (incl. a nested array and a string array).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT
from gguf import MODEL_TENSOR as MT

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(FIX, "gguf_py")


def tname(t: MT, bid: int | None = None, suffix: str = ".weight") -> str:
    base = gguf.TENSOR_NAMES[t]
    return (base.format(bid=bid) if bid is not None else base) + suffix


def pad_vocab(v: int, multiple: int) -> int:
    return -(v // -multiple) * multiple


# Extra metadata of every GGUF value type. (key, vtype, value, sub_type)
EXTRA_KV = [
    ("weft.test.u8", VT.UINT8, 255, None),
    ("weft.test.i8", VT.INT8, -128, None),
    ("weft.test.u16", VT.UINT16, 65535, None),
    ("weft.test.i16", VT.INT16, -32768, None),
    ("weft.test.u32", VT.UINT32, 4294967295, None),
    ("weft.test.i32", VT.INT32, -2147483648, None),
    ("weft.test.u64", VT.UINT64, 18446744073709551615, None),
    ("weft.test.i64", VT.INT64, -9223372036854775808, None),
    ("weft.test.f32", VT.FLOAT32, 0.1, None),          # stored as float32(0.1) = 0.10000000149011612
    ("weft.test.f64", VT.FLOAT64, math.pi, None),
    ("weft.test.bool_true", VT.BOOL, True, None),
    ("weft.test.bool_false", VT.BOOL, False, None),
    ("weft.test.string", VT.STRING, "h\u00e9llo \u2713 GGUF", None),
    ("weft.test.empty_string", VT.STRING, "", None),
    ("weft.test.arr_u8", VT.ARRAY, [0, 1, 254, 255], VT.UINT8),
    ("weft.test.arr_i16", VT.ARRAY, [-32768, -1, 0, 32767], VT.INT16),
    ("weft.test.arr_i32", VT.ARRAY, [0, -7, 7, 2147483647], VT.INT32),
    ("weft.test.arr_u64", VT.ARRAY, [0, 1, 18446744073709551615], VT.UINT64),
    ("weft.test.arr_f32", VT.ARRAY, [1.5, -0.25, 1e-5], VT.FLOAT32),
    ("weft.test.arr_f64", VT.ARRAY, [2.5, -1e300], VT.FLOAT64),
    ("weft.test.arr_bool", VT.ARRAY, [True, False, True], VT.BOOL),
    ("weft.test.arr_string", VT.ARRAY, ["alpha", "", "\u00df\u4e2d\U0001f600", "<|end|>"], VT.STRING),
    # nested array: ARRAY of ARRAY(INT32) (inner arrays may differ in length)
    ("weft.test.arr_nested", VT.ARRAY, [[1, 2, 3], [-4], [5, 6]], VT.ARRAY),
]


def _np_scalar(vtype: VT, v):
    return {VT.FLOAT32: lambda x: float(np.float32(x))}.get(vtype, lambda x: x)(v)


def typed_json(vtype: VT, value, sub_type: VT | None):
    """JSON description of a metadata value as a reader will see it."""
    if vtype != VT.ARRAY:
        return {"type": vtype.name, "value": _np_scalar(vtype, value)}
    if sub_type == VT.ARRAY:
        inner = []
        for item in value:
            it = VT.get_type(item[0])
            inner.append({"element_type": it.name, "value": [_np_scalar(it, x) for x in item]})
        return {"type": "ARRAY", "element_type": "ARRAY", "value": inner}
    return {"type": "ARRAY", "element_type": sub_type.name, "value": [_np_scalar(sub_type, x) for x in value]}


class Recorder:
    """Thin wrapper: writes to GGUFWriter and records what was written, in order."""

    def __init__(self, path: str, arch: str):
        self.w = gguf.GGUFWriter(path, arch=arch)
        self.kv = [("general.architecture", VT.STRING, arch, None)]
        self.tensors = []

    def add_kv(self, key, vtype, value, sub_type=None):
        self.w.add_key_value(key, value, vtype, sub_type=sub_type)
        self.kv.append((key, vtype, value, sub_type))

    def add_tensor(self, name: str, data: np.ndarray, qtype: QT = QT.F32):
        data = np.ascontiguousarray(data, dtype=np.float32)
        if qtype == QT.F32:
            self.w.add_tensor(name, data)
            deq = data
            raw = data
        else:
            raw = gguf.quants.quantize(data, qtype)
            self.w.add_tensor(name, raw, raw_dtype=qtype)
            deq = gguf.quants.dequantize(raw, qtype)
        flat = deq.reshape(-1).astype(np.float64)
        self.tensors.append({
            "name": name,
            "ne": [int(x) for x in reversed(data.shape)],
            "type": qtype.name,
            "n_elements": int(data.size),
            "nbytes": int(raw.nbytes),
            "sha256": hashlib.sha256(raw.tobytes()).hexdigest(),
            "sum": float(flat.sum()),
            "first4": [float(x) for x in flat[:4]],
        })

    def write(self):
        self.w.write_header_to_file()
        self.w.write_kv_data_to_file()
        self.w.write_tensors_to_file()
        self.w.close()


def common_kv(r: Recorder, name: str, ftype: int):
    r.add_kv("general.type", VT.STRING, "model")
    r.add_kv("general.name", VT.STRING, name)


def quant_for(name: str, data: np.ndarray, qtype: QT) -> QT:
    """llama.cpp's rule (conversion/base.py + llama-quant.cpp): only 2-D/3-D `.weight` matrices are quantized;
    1-D tensors, *_norm.weight, names not ending in .weight (ssm_a, ssm_d, biases), ssm_conv1d stay F32."""
    if qtype == QT.F32 or data.ndim < 2 or not name.endswith(".weight") or name.endswith("_norm.weight") \
            or ".ssm_conv1d." in name or ".ffn_gate_inp." in name:
        return QT.F32
    if data.shape[-1] % gguf.GGML_QUANT_SIZES[qtype][0] != 0:
        return QT.F32
    return qtype


def build_mamba2(src_case: str, out_name: str, qtype: QT) -> dict:
    cfg = json.load(open(os.path.join(FIX, src_case, "config.json")))
    st = load_file(os.path.join(FIX, src_case, "model.safetensors"))
    H = cfg["hidden_size"]
    d_inner = cfg.get("intermediate_size") or 2 * H
    head_dim = cfg["head_dim"]
    G = cfg.get("n_groups") or 1
    L = cfg["num_hidden_layers"]
    assert d_inner == 2 * H and d_inner % head_dim == 0
    V = cfg["vocab_size"]
    Vp = pad_vocab(V, cfg.get("pad_vocab_size_multiple", 16))
    assert Vp == V, "fixture vocab must already be a multiple of 16 (no padding needed)"
    ftype = gguf.LlamaFileType.ALL_F32 if qtype == QT.F32 else gguf.LlamaFileType.MOSTLY_Q8_0

    path = os.path.join(OUT, out_name)
    r = Recorder(path, "mamba2")
    common_kv(r, src_case, ftype)
    A = "mamba2"
    r.add_kv(f"{A}.context_length", VT.UINT32, 2 ** 20)
    r.add_kv(f"{A}.embedding_length", VT.UINT32, H)
    r.add_kv(f"{A}.feed_forward_length", VT.UINT32, 0)
    r.add_kv(f"{A}.attention.head_count", VT.UINT32, 0)
    r.add_kv(f"{A}.block_count", VT.UINT32, L)
    r.add_kv(f"{A}.ssm.conv_kernel", VT.UINT32, cfg["conv_kernel"])
    r.add_kv(f"{A}.ssm.inner_size", VT.UINT32, d_inner)
    r.add_kv(f"{A}.ssm.state_size", VT.UINT32, cfg["state_size"])
    r.add_kv(f"{A}.ssm.time_step_rank", VT.UINT32, d_inner // head_dim)
    r.add_kv(f"{A}.ssm.group_count", VT.UINT32, G)
    r.add_kv(f"{A}.attention.layer_norm_rms_epsilon", VT.FLOAT32, cfg["layer_norm_epsilon"])
    r.add_kv("general.file_type", VT.UINT32, int(ftype))
    r.add_kv("general.quantization_version", VT.UINT32, gguf.GGML_QUANT_VERSION)
    for kv in EXTRA_KV:
        r.add_kv(*kv)

    def put(name, arr):
        r.add_tensor(name, arr, quant_for(name, arr, qtype))

    put(tname(MT.TOKEN_EMBD), st["backbone.embeddings.weight"])
    for i in range(L):
        p = f"backbone.layers.{i}."
        put(tname(MT.ATTN_NORM, i), st[p + "norm.weight"])
        put(tname(MT.SSM_IN, i), st[p + "mixer.in_proj.weight"])
        put(tname(MT.SSM_CONV1D, i), st[p + "mixer.conv1d.weight"].squeeze())
        put(tname(MT.SSM_CONV1D, i, ".bias"), st[p + "mixer.conv1d.bias"])
        put(tname(MT.SSM_DT, i, ".bias"), st[p + "mixer.dt_bias"])
        put(tname(MT.SSM_A, i, ""), (-np.exp(st[p + "mixer.A_log"].astype(np.float32))).reshape(-1, 1))
        put(tname(MT.SSM_D, i, ""), st[p + "mixer.D"].reshape(-1, 1))
        put(tname(MT.SSM_NORM, i), st[p + "mixer.norm.weight"].reshape(G, d_inner // G))
        put(tname(MT.SSM_OUT, i), st[p + "mixer.out_proj.weight"])
    put(tname(MT.OUTPUT_NORM), st["backbone.norm_f.weight"])
    if not cfg.get("tie_word_embeddings", False):
        put(tname(MT.OUTPUT), st["lm_head.weight"])
    r.write()
    return finish(r, out_name, src_case, V, Vp, 16)


def build_mamba1(src_case: str, out_name: str) -> dict:
    cfg = json.load(open(os.path.join(FIX, src_case, "config.json")))
    st = load_file(os.path.join(FIX, src_case, "model.safetensors"))
    H = cfg["hidden_size"]
    d_inner = cfg.get("intermediate_size") or 2 * H
    assert d_inner == 2 * H
    L = cfg["num_hidden_layers"]
    V = cfg["vocab_size"]
    Vp = pad_vocab(V, cfg.get("pad_vocab_size_multiple", 8))
    assert Vp == V, "fixture vocab must already be a multiple of 8"
    dt_rank = cfg.get("time_step_rank") or -(H // -16)

    path = os.path.join(OUT, out_name)
    r = Recorder(path, "mamba")
    common_kv(r, src_case, gguf.LlamaFileType.ALL_F32)
    A = "mamba"
    r.add_kv(f"{A}.context_length", VT.UINT32, 2 ** 20)
    r.add_kv(f"{A}.embedding_length", VT.UINT32, H)
    r.add_kv(f"{A}.feed_forward_length", VT.UINT32, 0)
    r.add_kv(f"{A}.attention.head_count", VT.UINT32, 0)
    r.add_kv(f"{A}.block_count", VT.UINT32, L)
    r.add_kv(f"{A}.ssm.conv_kernel", VT.UINT32, cfg["conv_kernel"])
    r.add_kv(f"{A}.ssm.inner_size", VT.UINT32, d_inner)
    r.add_kv(f"{A}.ssm.state_size", VT.UINT32, cfg["state_size"])
    r.add_kv(f"{A}.ssm.time_step_rank", VT.UINT32, dt_rank)
    r.add_kv(f"{A}.attention.layer_norm_rms_epsilon", VT.FLOAT32, cfg["layer_norm_epsilon"])
    r.add_kv(f"{A}.ssm.dt_b_c_rms", VT.BOOL, False)
    r.add_kv("general.file_type", VT.UINT32, int(gguf.LlamaFileType.ALL_F32))
    r.add_kv("general.quantization_version", VT.UINT32, gguf.GGML_QUANT_VERSION)

    put = r.add_tensor
    emb = st["backbone.embeddings.weight"]
    put(tname(MT.TOKEN_EMBD), emb)
    for i in range(L):
        p = f"backbone.layers.{i}."
        put(tname(MT.ATTN_NORM, i), st[p + "norm.weight"])
        put(tname(MT.SSM_IN, i), st[p + "mixer.in_proj.weight"])
        put(tname(MT.SSM_CONV1D, i), st[p + "mixer.conv1d.weight"].squeeze())
        put(tname(MT.SSM_CONV1D, i, ".bias"), st[p + "mixer.conv1d.bias"])
        put(tname(MT.SSM_X, i), st[p + "mixer.x_proj.weight"])
        put(tname(MT.SSM_DT, i), st[p + "mixer.dt_proj.weight"])
        put(tname(MT.SSM_DT, i, ".bias"), st[p + "mixer.dt_proj.bias"])
        put(tname(MT.SSM_A, i, ""), -np.exp(st[p + "mixer.A_log"].astype(np.float32)))
        put(tname(MT.SSM_D, i, ""), st[p + "mixer.D"])
        put(tname(MT.SSM_OUT, i), st[p + "mixer.out_proj.weight"])
    put(tname(MT.OUTPUT_NORM), st["backbone.norm_f.weight"])
    lm = st.get("lm_head.weight")
    if lm is not None and not np.array_equal(lm, emb):
        put(tname(MT.OUTPUT), lm)
    r.write()
    return finish(r, out_name, src_case, V, Vp, 8)


def finish(r: Recorder, out_name, src_case, V, Vp, mult) -> dict:
    path = os.path.join(OUT, out_name)
    # offsets as laid out by the writer (running sum padded to the alignment)
    align = gguf.GGUF_DEFAULT_ALIGNMENT
    off = 0
    for t in r.tensors:
        t["offset"] = off
        off += -(t["nbytes"] // -align) * align
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {
        "file": out_name,
        "source": f"tests/fixtures/{src_case}/model.safetensors",
        "sha256": digest,
        "version": 3,
        "alignment": align,
        "n_kv": len(r.kv),
        "n_tensors": len(r.tensors),
        "vocab_padding": {
            "hf_vocab_size": V, "pad_multiple": mult, "padded_vocab_size": Vp,
            "note": "llama.cpp's converter rounds vocab_size up to this multiple (set_vocab; pads only the token "
                    "list, not the tensors). This fixture's vocab is already a multiple, so nothing is padded "
                    "and token_embd has exactly vocab_size rows.",
        },
        "metadata": [{"key": k, **typed_json(vt, v, sub)} for (k, vt, v, sub) in r.kv],
        "tensors": r.tensors,
    }


def parse_nested_raw(path: str, key: str):
    """Independent little-endian parse of an ARRAY-of-ARRAY metadata value (inner element types must be ints)."""
    import struct
    buf = open(path, "rb").read()
    kb = key.encode()
    pos = buf.index(struct.pack("<Q", len(kb)) + kb) + 8 + len(kb)
    vt, et, n = struct.unpack_from("<IIQ", buf, pos)
    assert vt == VT.ARRAY and et == VT.ARRAY
    pos += 16
    fmt = {VT.UINT8: "B", VT.INT8: "b", VT.UINT16: "H", VT.INT16: "h", VT.UINT32: "I", VT.INT32: "i",
           VT.UINT64: "Q", VT.INT64: "q"}
    out = []
    for _ in range(n):
        it, cnt = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        f = fmt[VT(it)]
        vals = list(struct.unpack_from("<%d%s" % (cnt, f), buf, pos))
        pos += cnt * struct.calcsize(f)
        out.append({"element_type": VT(it).name, "value": vals})
    return out


def verify(entry: dict):
    """Read the file back with gguf-py's reader and compare against what expected.json says."""
    rd = gguf.GGUFReader(os.path.join(OUT, entry["file"]))
    keys = [k for k in rd.fields if not k.startswith("GGUF.")]
    assert keys == [m["key"] for m in entry["metadata"]], (keys, [m["key"] for m in entry["metadata"]])
    for m in entry["metadata"]:
        f = rd.fields[m["key"]]
        assert VT(f.types[0]).name == m["type"], m["key"]
        if m["type"] == "ARRAY" and m["element_type"] != "ARRAY":
            assert VT(f.types[1]).name == m["element_type"], m["key"]
            assert f.contents() == m["value"], (m["key"], f.contents(), m["value"])
        elif m["type"] == "ARRAY":
            # gguf-py's reader flattens nested arrays in contents(); check the raw bytes ourselves.
            assert VT(f.types[1]).name == "ARRAY"
            assert f.contents() == [x for inner in m["value"] for x in inner["value"]], (m["key"], f.contents())
            assert parse_nested_raw(os.path.join(OUT, entry["file"]), m["key"]) == m["value"], m["key"]
        else:
            assert f.contents() == m["value"], (m["key"], f.contents(), m["value"])
    assert [t.name for t in rd.tensors] == [t["name"] for t in entry["tensors"]]
    for t, e in zip(rd.tensors, entry["tensors"]):
        assert [int(x) for x in t.shape] == e["ne"], (t.name, t.shape, e["ne"])
        assert t.tensor_type.name == e["type"], t.name
        assert int(t.data_offset) - int(rd.tensors[0].data_offset) == e["offset"], t.name
        assert hashlib.sha256(np.ascontiguousarray(t.data).tobytes()).hexdigest() == e["sha256"], t.name


def main():
    os.makedirs(OUT, exist_ok=True)
    entries = [
        build_mamba2("mamba2_a", "mamba2_a.gguf", QT.F32),
        build_mamba2("mamba2_a", "mamba2_a.q8_0.gguf", QT.Q8_0),
        build_mamba1("mamba1_a", "mamba1_a.gguf"),
    ]
    for e in entries:
        verify(e)
        print(f"{e['file']}: {e['n_kv']} kv, {e['n_tensors']} tensors, sha256 {e['sha256'][:16]}…")
        for t in e["tensors"]:
            print(f"    {t['name']:28s} {t['type']:5s} ne={t['ne']}")
    doc = {
        "generator": "tools/gen_gguf_py_fixture.py",
        "gguf_py_version": getattr(gguf, "__version__", None) or _gguf_version(),
        "conventions": {
            "ne": "GGML dims, ne[0] fastest-varying (= reversed numpy/PyTorch shape)",
            "offset": "relative to the start of the tensor data section",
            "sum": "float64 sum of all (dequantized) values",
            "first4": "first 4 (dequantized) values in memory order",
            "sha256": "of the tensor's raw bytes in the file (quantized blocks for Q8_0)",
            "float32 metadata": "JSON value is the exact float32 value widened to float64",
        },
        "files": entries,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")


def _gguf_version():
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:  # pragma: no cover
        return None


if __name__ == "__main__":
    sys.exit(main())
