#!/usr/bin/env python3
"""Rounds of the goal measurement, and what they say together.

    SOFTCE_LIBRARY=$PWD/build/src/libsoftce.so.1 PYTHONPATH=$PWD/bindings/python \\
        /usr/bin/python3 bench/rounds.py --rounds 4 --dir /tmp/rounds
    /usr/bin/python3 bench/rounds.py --dir /tmp/rounds --no-run    # summarise rounds already run

One round is what docs/performance.md's goals are computed from: `peers.py --reps R --dtype f32`
(softce next to PyTorch 1.13 in one process, 2 threads; with --interleave, `peers.py
--interleave`), then `softce_bench --dtype f32 --op
fused_inplace --threads 2` (the roofline goal), their CSVs kept in DIR as peers-rK.csv and
bench-rK.csv. On this shared host one round is one sample (docs/performance.md, "Run-to-run
spread"), so the summary gives each round's verdict on the three goals of the fast-kernels issue
(fused out of place >= 8x PyTorch 1.13 and forward >= 5x on every shape and target kind; fused in
place >= 50 % of the roofline on the large row-major shapes, of 1.5 passes for soft targets, as
bench/report.py judges them), how many rounds met each goal, and every case's value in each
round with its median over the rounds. Markdown on stdout (and in --out). Exit status 0 (the
verdicts are information, not a test), 1 when a round's command fails or DIR holds no rounds.
"""

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import time

import report

HERE = os.path.dirname(os.path.abspath(__file__))
OPS = (("forward", "forward", 5.0), ("fused", "fused", 8.0), ("fused_inplace", "fused", 8.0))
ROOF_NEED = 50.0


def speedups(peer_rows):
    """{(shape, target, op): PyTorch 1.13 time / softce time} of one peers.py run, f32, at
    PyTorch's largest thread count (fused_inplace against PyTorch's fused)."""
    soft = {report.key(r, "shape", "dtype", "target", "op", "threads"): r
            for r in peer_rows if r["impl"] == "softce"}
    out = {}
    for q in report.torch113_rows(peer_rows):
        if q["dtype"] != "f32":
            continue
        for op, peer_op, _ in OPS:
            s = soft.get((q["shape"], "f32", q["target"], op, q["threads"]))
            if q["op"] == peer_op and s is not None:
                out[(q["shape"], q["target"], op)] = \
                    float(q["median_ms"]) / float(s["median_ms"])
    return out


def worst(values, keys):
    """(value, 'shape target') of the smallest value among keys present, or None."""
    have = [(values[k], " ".join(k[:2])) for k in keys if k in values]
    return min(have) if have else None


def verdicts(sp, roof):
    """The three goals of one round: name -> (met: True / False / None for no data, worst)."""
    out = {}
    for name, op, need in (("fused", "fused", 8.0), ("forward", "forward", 5.0)):
        w = worst(sp, [k for k in sp if k[2] == op])
        out[name] = (None if w is None else w[0] >= need, w)
    w = worst(roof, list(roof))
    out["roofline"] = (None if w is None else w[0] >= ROOF_NEED, w)
    return out


def cell(w, unit):
    return "-" if w is None else f"{w[0]:.2f}{unit} ({w[1]})"


def fmt(v, need, unit):
    s = f"{v:.1f}{unit}"
    return f"**{s}**" if v < need else s


def summarise(rounds):
    """rounds: list of (label, started, peer_rows, bench_rows). Markdown text."""
    per = []
    for label, started, peer_rows, bench_rows in rounds:
        sp, roof = speedups(peer_rows), report.roofline_goal_pcts(bench_rows)
        per.append((label, started, sp, roof, verdicts(sp, roof)))
    lines = ["| round | started | fused (>= 8x): worst | forward (>= 5x): worst | "
             "fused in place (>= 50 % of the roofline): worst | every goal |",
             "|---|---|---|---|---|---|"]
    met = {"fused": 0, "forward": 0, "roofline": 0}
    all_met = 0
    for label, started, sp, roof, v in per:
        for g in met:
            met[g] += v[g][0] is True
        every = all(v[g][0] is True for g in met)
        all_met += every
        lines.append(f"| {label} | {started} | {cell(v['fused'][1], 'x')} | "
                     f"{cell(v['forward'][1], 'x')} | {cell(v['roofline'][1], ' %')} | "
                     f"{'met' if every else '**not met**'} |")
    n = len(per)
    lines += ["", f"Every goal met in {all_met} of {n} rounds; fused >= 8x in {met['fused']}, "
              f"forward >= 5x in {met['forward']}, the roofline goal in {met['roofline']}."]

    order = (lambda c: (report.SHAPES.index(c[0]) if c[0] in report.SHAPES else 99, c[0], c[1]))
    cases = sorted({k[:2] for _, _, sp, _, _ in per for k in sp} |
                   {k for _, _, _, roof, _ in per for k in roof}, key=order)
    med_sp, med_roof = {}, {}
    table = ["| shape | target | forward (>= 5x) | fused (>= 8x) | fused in place (>= 8x) | "
             "in place, % of the roofline (>= 50) |", "|---|---|---|---|---|---|"]
    for shape, target in cases:
        cells = []
        for op, _, need in OPS:
            v = [sp[(shape, target, op)] for _, _, sp, _, _ in per if (shape, target, op) in sp]
            if not v:
                cells.append("-")
                continue
            med = med_sp[(shape, target, op)] = statistics.median(v)
            cells.append(" / ".join(fmt(x, need, "x") for x in v) + f" ({med:.1f}x)")
        r = [roof[(shape, target)] for _, _, _, roof, _ in per if (shape, target) in roof]
        if r:
            med = med_roof[(shape, target)] = statistics.median(r)
        cells.append(" / ".join(fmt(x, ROOF_NEED, " %") for x in r) +
                     f" ({med:.1f} %)" if r else "-")
        table.append(f"| {shape} | {target} | " + " | ".join(cells) + " |")
    mv = verdicts(med_sp, med_roof)
    lines += ["", "Per case, f32 at 2 threads: PyTorch 1.13 time / softce time in each round "
              "(the median over the rounds in brackets; below the goal in bold):", ""] + table
    lines += ["", "Judged on each case's median over the rounds: fused worst "
              f"{cell(mv['fused'][1], 'x')}, forward worst {cell(mv['forward'][1], 'x')}, "
              f"roofline worst {cell(mv['roofline'][1], ' %')}; "
              + ", ".join(f"{g} {'met' if mv[g][0] else 'not met' if mv[g][0] is False else 'n/a'}"
                          for g in ("fused", "forward", "roofline")) + "."]
    return "\n".join(lines) + "\n"


def load(d):
    """The rounds in d: (label, started, peer rows, bench rows), by round number."""
    found = []
    for p in glob.glob(os.path.join(d, "peers-r*.csv")):
        m = re.search(r"peers-r(\d+)\.csv$", p)
        b = m and os.path.join(d, f"bench-r{m.group(1)}.csv")
        if b and os.path.exists(b):
            started = "-"
            stamp = os.path.join(d, f"started-r{m.group(1)}.txt")
            if os.path.exists(stamp):
                with open(stamp) as f:
                    started = f.read().strip()
            found.append((int(m.group(1)), started, report.read(p), report.read(b)))
    return [(str(k), s, p, b) for k, s, p, b in sorted(found, key=lambda t: t[0])]


def run(args):
    """0, or the exit status of the first command that failed."""
    os.makedirs(args.dir, exist_ok=True)
    if args.fresh:
        for pattern in ("peers-r*.csv", "bench-r*.csv", "started-r*.txt"):
            for f in glob.glob(os.path.join(args.dir, pattern)):
                os.remove(f)
    first = len(load(args.dir)) + 1
    quick = ["--quick"] if args.quick else []
    interleave = ["--interleave"] if args.interleave else []
    for k in range(first, first + args.rounds):
        with open(os.path.join(args.dir, f"started-r{k}.txt"), "w") as f:
            f.write(time.strftime("%m-%d %H:%M UTC", time.gmtime()) + "\n")
        cmds = [[sys.executable, os.path.join(HERE, "peers.py"), "--reps", str(args.reps),
                 "--dtype", "f32", "--no-jax", "--csv",
                 os.path.join(args.dir, f"peers-r{k}.csv")] + quick + interleave,
                [args.softce_bench, "--dtype", "f32", "--op", "fused_inplace", "--threads", "2",
                 "--csv", os.path.join(args.dir, f"bench-r{k}.csv")] + quick]
        if args.quick:
            cmds[0] += ["--min-time", "0", "--warmup", "0"]
            cmds[1] += ["--reps", "1", "--warmup", "0"]
        for name, c in zip(("peers.py", "softce_bench"), cmds):
            print(f"# round {k}: {' '.join(c)}", file=sys.stderr, flush=True)
            r = subprocess.run(c, stdout=subprocess.DEVNULL)
            if r.returncode != 0:  # peers.py's 77 (numpy or PyTorch missing) too
                print(f"round {k}: {name} exited with {r.returncode}", file=sys.stderr)
                return r.returncode
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="where the rounds' CSVs go (and are read from)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds to run (added to DIR's)")
    ap.add_argument("--no-run", action="store_true", help="only summarise the rounds in DIR")
    ap.add_argument("--fresh", action="store_true", help="remove DIR's earlier rounds first")
    ap.add_argument("--reps", type=int, default=5, help="peers.py --reps")
    ap.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    ap.add_argument("--interleave", action="store_true", help="peers.py --interleave")
    ap.add_argument("--softce-bench", default=os.path.join(os.getcwd(), "build", "bench",
                                                           "softce_bench"))
    ap.add_argument("--out", help="write the summary here too")
    a = ap.parse_args(argv)
    if a.rounds < 1 and not a.no_run:
        ap.error("--rounds must be at least 1")
    rc = 0 if a.no_run else run(a)
    if rc:
        return 77 if rc == 77 else 1  # 77: peers.py found no numpy or no PyTorch
    rounds = load(a.dir)
    if not rounds:
        print(f"no rounds in {a.dir} (peers-rK.csv with bench-rK.csv)", file=sys.stderr)
        return 1
    text = summarise(rounds)
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
