#!/usr/bin/env bash
# Best-of-N side by side: alternates weft and llama-bench ITER times per model and keeps every
# result; bench/summarize.py --best reports the best run of each (interference from other
# processes only ever slows a run down, so the best run is the closest to an idle machine).
#
#   WEFT=target/release/weft LLAMA_BENCH=/path/to/llama-bench MODELS=bench/models \
#     ITER=6 bench/best.sh mamba2-130m-q8_0 jamba-tiny-dev-q8_0
set -euo pipefail
cd "$(dirname "$0")/.."
WEFT=${WEFT:-target/release/weft}
LLAMA_BENCH=${LLAMA_BENCH:-}
MODELS=${MODELS:-bench/models}
OUT=${OUT:-bench/results}
THREADS=${THREADS:-2}
ITER=${ITER:-6}
WEFT_FLAGS=${WEFT_FLAGS:---int8}
mkdir -p "$OUT"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
for i in $(seq 1 "$ITER"); do
  for name in "$@"; do
    f="$MODELS/$name.gguf"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    # shellcheck disable=SC2086
    "$WEFT" bench "$f" --threads "$THREADS" --prompt 128 --gen 64 --runs 3 --probe-mib 256 --json $WEFT_FLAGS \
      | sed "s/^{/{\"round\":$i,\"load\":\"$load\",/" >> "$OUT/best-weft-$stamp.jsonl"
    if [ -n "$LLAMA_BENCH" ]; then
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      # llama.cpp has no Zamba2: its failure leaves no line.
      { "$LLAMA_BENCH" -m "$f" -p 128 -n 64 -t "$THREADS" -r 3 -o jsonl 2>/dev/null || true; } \
        | sed "s/^{/{\"round\":$i,\"load\":\"$load\",/" >> "$OUT/best-llama-$stamp.jsonl"
    fi
  done
done
python3 bench/summarize.py --best "$OUT/best-weft-$stamp.jsonl" "$OUT/best-llama-$stamp.jsonl" | tee "$OUT/best-$stamp.md"
