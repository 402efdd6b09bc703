#!/usr/bin/env bash
# bench/run.sh and the 4096-token latency runs on two pinned cores of an otherwise idle host,
# to tell the engine's own step-time spread from a shared VM's (bench/README.md, "Quiet host").
#
#   WEFT=path/to/weft LLAMA_BENCH=path/to/llama-bench OUT=results bench/quiet-host.sh
#
# Environment (defaults in brackets): CPUS, the cores both programs are pinned to [2,3]
# (taskset; not core 0, where the host's interrupts land); ONLY, ROUNDS as for bench/run.sh
# [mamba2-130m-q8_0 jamba-tiny-dev-q8_0 zamba2-1.2b-q4_0, 2]; LATENCY_N, decode tokens of the
# latency runs [4096]. Everything else is passed on to bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
CPUS=${CPUS:-2,3}
WEFT=${WEFT:-target/release/weft}
OUT=${OUT:-bench/results}
MODELS=${MODELS:-bench/models}
export WEFT OUT MODELS
export ONLY=${ONLY:-"mamba2-130m-q8_0 jamba-tiny-dev-q8_0 zamba2-1.2b-q4_0"}
export ROUNDS=${ROUNDS:-2}
export WEFT_FLAGS=${WEFT_FLAGS:---int8}
mkdir -p "$OUT"
lscpu | grep -E "Model name|^CPU\(s\)|L2 cache|L3 cache" > "$OUT/quiet-host-machine.txt" || true
taskset -c "$CPUS" bash bench/run.sh
# Step-time spread over a long stream, 2 threads and 1 (every step's time in the --steps file).
f="$MODELS/mamba2-130m-q8_0.gguf"
for t in 2 1; do
  taskset -c "$CPUS" "$WEFT" bench "$f" --threads "$t" --int8 --prompt 16 --gen "${LATENCY_N:-4096}" \
    --runs 1 --json --steps "$OUT/quiet-steps-${t}t.txt" >> "$OUT/quiet-latency.jsonl"
done
