#!/usr/bin/env bash
# `weft bench --backend gpu` on the device machine (repo root), on models `weft synth` writes
# there at real checkpoint shapes (full Zamba2: Mamba-2 layers + shared attention blocks).
# Needs, carried: .gl (Vulkan loader .debs, see README.md) and .gpubench/weft (built with
# `cargo build --release -p weft-cli --features gpu`). Appends JSON lines to $OUT/weft-bench-gpu.jsonl.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
weft=.gpubench/weft
chmod +x "$weft"
out="${OUT:-.}/weft-bench-gpu.jsonl"
models="${MODELS:-mamba2:mamba2-130m zamba2:zamba2-1.2b zamba2:zamba2-2.7b}"
for spec in $models; do
    arch=${spec%%:*} shape=${spec#*:}
    for ty in ${TYPES:-q8_0 q4_0}; do
        file=/tmp/$shape-$ty.gguf
        "$weft" synth "$file" --arch "$arch" --shape "$shape" --type "$ty" >/dev/null || continue
        timeout "${PER_RUN_S:-120}" "$weft" bench "$file" --backend gpu \
            -p "${PROMPT:-128}" -n "${GEN:-64}" -r "${RUNS:-3}" --json | tee -a "$out"
        rm -f "$file"
    done
done
