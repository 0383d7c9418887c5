#!/usr/bin/env python3
"""Bar charts of GB/s of logits per shape: softce (softce_bench) against its peers (peers.py)
and the roofline of the same run. Needs matplotlib (Debian's python3-matplotlib).

    /usr/bin/python3 bench/plot.py --bench bench/results/softce_bench.csv \
        --peers bench/results/peers-*.csv --dtype f32 --out docs/perf.png

One figure: rows = op (forward, fused forward+backward), columns = target kind (hard, soft);
log scale; the black tick over each shape is the roofline (in-place streaming read+write; the
median of all its passes for that shape, dtype and thread count).
"""

import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

SHAPE_ORDER = ["65536x1000", "4096x32000", "8x262144", "1048576x10", "seg8x21x256x256"]


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def series(bench_rows, peer_rows, dtype, threads):
    """{(op, target): [(label, {shape: gbps})]} and {shape: roofline gbps}."""
    sel = [r for r in bench_rows if r["dtype"] == dtype and int(r["threads"]) == threads]
    roof = {}
    for r in sel:  # every roofline pass: the standalone row and those paired with each op
        roof.setdefault(r["shape"], []).append(float(r["roof_gbps"]))
    roof = {s: sorted(v)[len(v) // 2] for s, v in roof.items()}
    out = {}
    for target in ("hard", "soft"):
        for op in ("forward", "fused"):
            bars = []
            ops = [("fused", "softce"), ("fused_inplace", "softce in place")] if op == "fused" \
                else [("forward", "softce")]
            for bench_op, label in ops:
                bars.append((label, {r["shape"]: float(r["gbps"]) for r in sel
                                     if r["op"] == bench_op and r["target"] == target}))
            bars.extend(peer_series(peer_rows, dtype, threads, target, op))
            out[(op, target)] = bars
    return out, roof


def peer_series(peer_rows, dtype, threads, target, op):
    """One bar series per (impl, version) found in the peers' CSVs (softce rows skipped)."""
    found = {}
    for r in peer_rows:
        if r["impl"] == "softce" or r["dtype"] != dtype or r["target"] != target:
            continue
        if r["op"] != op or int(r["threads"]) != threads:
            continue
        label = f"{r['impl']} {'.'.join(r['version'].split('+')[0].split('.')[:2])}"
        found.setdefault(label, {})[r["shape"]] = float(r["gbps"])
    return sorted(found.items())


# The same implementation keeps its colour in every panel and figure.
COLOURS = {"softce": "tab:blue", "softce in place": "tab:cyan", "jax": "tab:green",
           "torch 1": "tab:red", "torch 2": "tab:purple"}


def colour(label):
    for prefix in sorted(COLOURS, key=len, reverse=True):
        if label.startswith(prefix):
            return COLOURS[prefix]
    return "tab:gray"


def draw_panel(ax, bars, roof, shapes):
    width = 0.8 / max(len(bars), 1)
    for k, (label, values) in enumerate(bars):
        xs = [i + (k - (len(bars) - 1) / 2) * width for i in range(len(shapes))]
        ys = [values.get(s, 0.0) for s in shapes]
        ax.bar(xs, ys, width, label=label, color=colour(label))
    for i, s in enumerate(shapes):
        if s in roof:
            ax.plot([i - 0.45, i + 0.45], [roof[s]] * 2, color="black", linewidth=2,
                    label="roofline" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xticks(range(len(shapes)))
    ax.set_xticklabels([s.replace("seg", "seg ") for s in shapes], rotation=15, fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", required=True, help="CSV of softce_bench")
    ap.add_argument("--peers", nargs="*", default=[], help="CSVs of peers.py")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--title", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    bench_rows = read_rows(a.bench)
    peer_rows = [r for p in a.peers for r in read_rows(p)]
    data, roof = series(bench_rows, peer_rows, a.dtype, a.threads)
    present = {r["shape"] for r in bench_rows}
    shapes = [s for s in SHAPE_ORDER if s in present] or sorted(present)
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), sharey=True)
    for i, op in enumerate(("forward", "fused")):
        for j, target in enumerate(("hard", "soft")):
            ax = axes[i][j]
            draw_panel(ax, data[(op, target)], roof, shapes)
            name = "forward (loss)" if op == "forward" else "fused forward+backward"
            ax.set_title(f"{name}, {target} targets", fontsize=10)
            if j == 0:
                ax.set_ylabel("GB/s of logits (higher is better)")
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(a.title or f"{a.dtype} logits, {a.threads} thread(s): median GB/s", fontsize=12)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
