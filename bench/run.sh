#!/usr/bin/env bash
# Side-by-side decode/prefill benchmark of weft and llama.cpp's llama-bench on the same
# synthetic GGUF files (bench/README.md records the results).
#
#   WEFT=target/release/weft LLAMA_BENCH=/path/to/llama-bench bench/run.sh
#
# Environment (defaults in brackets):
#   WEFT          weft binary [target/release/weft]
#   LLAMA_BENCH   llama-bench binary built without AMX (empty: weft only) []
#   MODELS        where the synthetic models are written [bench/models, git-ignored]
#   OUT           result folder [bench/results]
#   THREADS       threads for both programs [2]
#   ROUNDS        interleaved rounds (weft, llama.cpp, weft, ...) [3]
#   PROMPT, GEN   pp and tg lengths [128, 64]
#   WEFT_FLAGS    extra flags for weft bench []
#   ONLY          space-separated subset of the model names below []
set -euo pipefail
cd "$(dirname "$0")/.."
WEFT=${WEFT:-target/release/weft}
LLAMA_BENCH=${LLAMA_BENCH:-}
MODELS=${MODELS:-bench/models}
OUT=${OUT:-bench/results}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PROMPT=${PROMPT:-128}
GEN=${GEN:-64}
WEFT_FLAGS=${WEFT_FLAGS:-}
mkdir -p "$MODELS" "$OUT"

# name arch shape type in_llama_cpp
SET="
mamba2-130m-q8_0 mamba2 mamba2-130m q8_0 1
mamba2-130m-q4_0 mamba2 mamba2-130m q4_0 1
mamba-130m-q8_0 mamba mamba-130m q8_0 1
jamba-tiny-dev-q8_0 jamba jamba-tiny-dev q8_0 1
llama-124m-q4_0 llama llama-124m q4_0 1
zamba2-1.2b-q4_0 zamba2 zamba2-1.2b q4_0 0
"

selected() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

echo "$SET" | while read -r name arch shape ty _; do
  [ -n "$name" ] && selected "$name" || continue
  f="$MODELS/$name.gguf"
  [ -f "$f" ] || "$WEFT" synth --arch "$arch" --shape "$shape" --type "$ty" "$f"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
{
  echo "date $stamp"
  uname -srm
  grep -m1 "model name" /proc/cpuinfo || true
  nproc
  "$WEFT" --version || true
  [ -n "$LLAMA_BENCH" ] && "$LLAMA_BENCH" --version 2>&1 | head -2 || true
} > "$OUT/machine-$stamp.txt"

for round in $(seq 1 "$ROUNDS"); do
  echo "$SET" | while read -r name arch shape ty in_llama; do
    [ -n "$name" ] && selected "$name" || continue
    f="$MODELS/$name.gguf"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    # shellcheck disable=SC2086
    "$WEFT" bench "$f" --threads "$THREADS" --prompt "$PROMPT" --gen "$GEN" --runs 5 --json $WEFT_FLAGS \
      | sed "s/^{/{\"round\":$round,\"load\":\"$load\",/" >> "$OUT/weft-$stamp.jsonl"
    if [ -n "$LLAMA_BENCH" ] && [ "$in_llama" = 1 ]; then
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      "$LLAMA_BENCH" -m "$f" -p "$PROMPT" -n "$GEN" -t "$THREADS" -r 5 -o jsonl 2>/dev/null \
        | sed "s/^{/{\"round\":$round,\"load\":\"$load\",/" >> "$OUT/llama-$stamp.jsonl"
    fi
  done
done
python3 bench/summarize.py "$OUT/weft-$stamp.jsonl" "$OUT/llama-$stamp.jsonl" | tee "$OUT/summary-$stamp.md"
