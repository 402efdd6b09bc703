#!/usr/bin/env bash
# The H100 run (device machine, repo root). Needs, carried: .gl (Vulkan loader .debs, see
# bench/gpu/README.md) and .gpubench/weft-gpu-bench (built here with
# `cargo build --release -p weft-gpu-bench --features gpu`). Writes $OUT/results.jsonl.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
out="${OUT:-.}/results.jsonl"
bin=${BIN:-.gpubench/weft-gpu-bench}
chmod +x "$bin"
for shape in ${SHAPES:-mamba2-130m zamba2-1.2b zamba2-2.7b}; do
    for ty in ${TYPES:-q8_0 q4_0}; do
        timeout "${PER_RUN_S:-150}" "$bin" "$shape" "$ty" "${DECODE:-64}" "${PREFILL:-128}" 2>&1 | tee -a "$out"
    done
done
