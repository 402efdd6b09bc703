#!/usr/bin/env python3
"""Markdown table from bench/run.sh results: weft (JSON lines of `weft bench --json`) against
llama-bench (`-o jsonl`). Medians over rounds; speed ratios weft / llama.cpp."""
import json
import statistics
import sys
from collections import defaultdict


def load(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    weft = load(sys.argv[1])
    llama = load(sys.argv[2]) if len(sys.argv) > 2 else []
    w = defaultdict(list)
    for r in weft:
        w[r["model"]].append(r)
    pp, tg = defaultdict(list), defaultdict(list)
    for r in llama:
        name = r["model_filename"].split("/")[-1]
        if r.get("n_gen", 0) > 0:
            tg[name].append(r["avg_ts"])
        elif r.get("n_prompt", 0) > 0:
            pp[name].append(r["avg_ts"])
    print("| model | weft pp tok/s | llama.cpp pp tok/s | pp ratio | weft tg tok/s | llama.cpp tg tok/s | tg ratio "
          "| weft p50 / p99 ms | weft peak RSS MiB | MB/token | achieved / probe GB/s | roofline | load (1/5/15 min) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, rs in w.items():
        g = lambda k: med([r[k] for r in rs])
        lpp, ltg = med(pp.get(name, [])), med(tg.get(name, []))
        ratio = lambda a, b: f"{a / b:.2f}×" if b == b and b > 0 else "—"
        num = lambda x, f="{:.1f}": f.format(x) if x == x else "—"
        loads = sorted(set(r["load"] for r in rs))
        print(f"| {name} | {g('prefill_tok_s'):.1f} | {num(lpp)} | {ratio(g('prefill_tok_s'), lpp)} "
              f"| {g('decode_tok_s'):.1f} | {num(ltg)} | {ratio(g('decode_tok_s'), ltg)} "
              f"| {g('p50_ms'):.2f} / {g('p99_ms'):.2f} | {g('peak_rss_mb'):.0f} | {g('bytes_per_token') / 1e6:.1f} "
              f"| {g('achieved_gbps'):.1f} / {g('bandwidth_gbps'):.1f} | {100 * g('roofline_fraction'):.0f}% "
              f"| {loads[0]} … {loads[-1]} |")


if __name__ == "__main__":
    main()
