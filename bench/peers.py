#!/usr/bin/env python3
"""softce next to its peers, in one process: PyTorch F.cross_entropy, JAX (when importable) and
softce through its ctypes binding (bindings/python; set SOFTCE_LIBRARY and PYTHONPATH).

    /usr/bin/python3 bench/peers.py --csv peers-torch113.csv     # Debian's torch 1.13
    /work/venv-bench/bin/python bench/peers.py --csv peers.csv    # current torch and JAX

Ops: forward (the loss alone; torch under no_grad) and fused (loss + gradient w.r.t. the
logits: softce_forward_backward; torch loss.backward() into a fresh .grad as zero_grad does;
JAX jit(value_and_grad)). softce also runs fused_inplace (gradient over the logits). Each case
restores the logits from a pristine copy before every repetition (untimed), then times one call
(synchronised: JAX block_until_ready). Medians of at least --reps after --warmup, more (up to
--max-reps) until the timed calls add up to --min-time, for every implementation alike, so
that a sub-millisecond case has enough samples for a host hiccup of a few milliseconds not to
move its median. By default each case's calls run back to back, one case after the other; with
--interleave the cases of a shape and thread count (every implementation and op) take one call
each in turn until each has its samples, each round in a new order, so that a drift of the
shared host between cases reaches all of them alike (and each call finds the caches as the
other implementations left them, not as its own previous call did). Exit status: 0, 1 when
--check finds softce and torch disagreeing, 77 when numpy or every peer is missing.
Method and results: docs/performance.md.
"""

import argparse
import os
import random
import statistics
import sys
import time

import peers_impls as impls

# The shapes of softce_bench (same names, same dims; class axis = dim 1).
SHAPES = {
    "65536x1000": (65536, 1000),
    "4096x32000": (4096, 32000),
    "8x262144": (8, 262144),
    "1048576x10": (1048576, 10),
    "seg8x21x256x256": (8, 21, 256, 256),
    "q512x1000": (512, 1000),
    "q16x32000": (16, 32000),
    "q2x65536": (2, 65536),
    "q8192x10": (8192, 10),
    "qseg2x21x32x32": (2, 21, 32, 32),
}
FULL = list(SHAPES)[:5]
QUICK = list(SHAPES)[5:]
CSV_HEADER = ("impl,version,shape,dims,dtype,target,op,threads,reps,median_ms,min_ms,max_ms,"
              "logits_bytes,gbps,loss")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    ap.add_argument("--shape", help="comma-separated shape names (default: all full-size)")
    ap.add_argument("--dtype", default="f32,bf16")
    ap.add_argument("--target", default="hard,soft")
    ap.add_argument("--op", default="forward,fused,fused_inplace")
    ap.add_argument("--threads", default="2", help="comma-separated thread counts")
    ap.add_argument("--reps", type=int, default=5, help="timed calls per case, at least")
    ap.add_argument("--min-time", type=float, default=0.2,
                    help="seconds of timed calls per case: more repetitions for fast cases")
    ap.add_argument("--max-reps", type=int, default=101)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--interleave", action="store_true",
                    help="time the implementations and ops of a shape in turn, one call each "
                         "(each round in a new order), "
                         "instead of each case's calls back to back")
    ap.add_argument("--csv", help="write the results here")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--no-softce", action="store_true")
    ap.add_argument("--check", action="store_true",
                    help="compare softce's loss and gradient with torch's (exit 1 if off)")
    a = ap.parse_args(argv)
    names = a.shape.split(",") if a.shape else (QUICK if a.quick else FULL)
    for n in names:
        if n not in SHAPES:
            ap.error(f"unknown shape {n!r}; known: {', '.join(SHAPES)}")
    a.shapes = names
    a.dtypes = a.dtype.split(",")
    a.targets = a.target.split(",")
    a.ops = a.op.split(",")
    a.thread_list = [int(t) for t in a.threads.split(",")]
    if a.reps < 1 or a.warmup < 0 or min(a.thread_list) < 1 or a.max_reps < a.reps:
        ap.error("--reps >= 1, --warmup >= 0, --threads >= 1, --max-reps >= --reps")
    return a


class Case:
    """The timed calls of one (runner, op): at least args.reps after args.warmup, more until they
    add up to args.min_time seconds (at most args.max_reps)."""

    def __init__(self, runner, op, args):
        self.runner, self.op, self.args = runner, op, args
        self.samples, self.loss, self.calls = [], float("nan"), 0

    def done(self):
        a = self.args
        return not ((self.calls < a.warmup + a.reps or sum(self.samples) < a.min_time) and
                    len(self.samples) < a.max_reps)

    def step(self, problem):
        """One call: the logits restored (untimed), then the call timed."""
        problem.restore()
        prepared = self.runner.prepare(self.op)
        t0 = time.perf_counter()
        self.loss = self.runner.run(self.op, prepared)
        dt = time.perf_counter() - t0
        if self.calls >= self.args.warmup:
            self.samples.append(dt)
        self.calls += 1

    def result(self):
        """Median, min, max seconds, the number of timed calls and the last loss."""
        s = self.samples
        return statistics.median(s), min(s), max(s), len(s), float(self.loss)


def time_cases(cases, problem, interleave):
    """Runs the cases one after the other, or with interleave one call of each in turn (round
    robin until each is done), so that every implementation sees the same moments of the host.
    Interleaved, each round takes the pending cases in a new order (a shuffle seeded the same
    in every run; no case twice in a row across rounds), so that no case always follows the
    same one: a JAX value_and_grad call, whose runtime keeps working for tens of milliseconds
    after it returns, slowed the call after it (performance-log.md, lead session 35)."""
    if not interleave:
        for c in cases:
            while not c.done():
                c.step(problem)
        return
    rng, pending, last = random.Random(1), list(cases), None
    while pending:
        order = list(pending)
        rng.shuffle(order)
        if len(order) > 1 and order[0] is last:
            order.append(order.pop(0))
        for c in order:
            c.step(problem)
        last = order[-1]
        pending = [c for c in pending if not c.done()]


def make_runners(args, problem, nt):
    runners = []
    if not args.no_softce and impls.softce_available():
        runners.append(impls.SoftceRunner(problem, nt))
    if not args.no_torch and impls.torch_available():
        runners.append(impls.TorchRunner(problem, nt))
    if not args.no_jax and impls.jax_available() and nt == impls.jax_threads():
        if problem.dtype != "bf16" or impls.ml_dtypes_available():
            runners.append(impls.JaxRunner(problem))
    return runners


def report(problem, nt, case, out, rows):
    med, lo, hi, n, loss = case.result()
    runner, op = case.runner, case.op
    row = dict(impl=runner.name, version=runner.version, shape=problem.name,
               dims="x".join(map(str, problem.shape)), dtype=problem.dtype,
               target=problem.target, op=op, threads=nt, reps=n,
               median_ms=1e3 * med, min_ms=1e3 * lo, max_ms=1e3 * hi,
               logits_bytes=problem.nbytes, gbps=problem.nbytes / med * 1e-9, loss=loss)
    rows.append(row)
    print(f"{row['shape']:16s} {row['dtype']:5s} {row['target']:5s} {op:14s} "
          f"{nt:3d} {runner.name:8s} {row['median_ms']:10.3f} {row['gbps']:7.3f}", flush=True)
    if out:
        out.write(",".join(str(row[k]) for k in CSV_HEADER.split(",")) + "\n")
        out.flush()


def run_problem(args, problem, out, rows):
    bad = 0
    for nt in args.thread_list:
        runners = make_runners(args, problem, nt)
        if args.interleave:  # every (implementation, op) of this thread count in turn
            cases = [Case(r, op, args) for r in runners for op in args.ops if op in r.ops]
            time_cases(cases, problem, True)
            for c in cases:
                report(problem, nt, c, out, rows)
            for runner in runners:
                runner.close()
        else:  # each case's calls back to back, one case after the other
            for runner in runners:
                for op in args.ops:
                    if op in runner.ops:
                        c = Case(runner, op, args)
                        time_cases([c], problem, False)
                        report(problem, nt, c, out, rows)
                runner.close()  # before the next runner's cases, as before --interleave
        if args.check and nt == args.thread_list[0]:
            bad += impls.check_against_torch(problem, nt)
    return bad


def print_ratios(rows):
    """One line per case: softce's median and each peer's speedup (peer time / softce time)."""
    peers = sorted({r["impl"] for r in rows} - {"softce"})
    if not peers or not any(r["impl"] == "softce" for r in rows):
        return
    print("\nspeedup = peer median / softce median (> 1: softce faster); fused_inplace is "
          "compared with the peers' fused")
    head = f"{'shape':16s} {'dtype':5s} {'tgt':5s} {'op':14s} {'thr':>3s} {'softce_ms':>10s}"
    print(head + "".join(f" {p + '_ms':>11s} {'x' + p:>9s}" for p in peers))
    index = {(r["impl"], r["shape"], r["dtype"], r["target"], r["op"], r["threads"]): r
             for r in rows}
    for r in rows:
        if r["impl"] != "softce":
            continue
        line = (f"{r['shape']:16s} {r['dtype']:5s} {r['target']:5s} {r['op']:14s} "
                f"{r['threads']:3d} {r['median_ms']:10.3f}")
        peer_op = "fused" if r["op"] == "fused_inplace" else r["op"]
        for p in peers:
            q = index.get((p, r["shape"], r["dtype"], r["target"], peer_op, r["threads"]))
            if q is None:
                line += f" {'-':>11s} {'-':>9s}"
            else:
                line += f" {q['median_ms']:11.3f} {q['median_ms'] / r['median_ms']:8.2f}x"
        print(line)


def main(argv):
    args = parse_args(argv)
    if not impls.numpy_available():
        print("peers.py: numpy is not importable; skipped", file=sys.stderr)
        return 77
    if args.check and (args.no_torch or not impls.torch_available()):
        print("peers.py: --check needs torch; skipped", file=sys.stderr)
        return 77
    if not impls.softce_available() and not (impls.torch_available() or
                                             impls.jax_available()):
        print("peers.py: neither softce nor a peer is importable; skipped", file=sys.stderr)
        return 77
    if args.thread_list == [1]:
        impls.configure_jax_single_thread()  # XLA's thread count is fixed at import
    print(f"# python {sys.version.split()[0]}; " + impls.describe_versions(), flush=True)
    print(f"# load average at start: {os.getloadavg()}", flush=True)
    omp = sorted((k, v) for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_")))
    if omp:  # the wait policy changes what a sub-millisecond call costs (docs/performance.md)
        print("# OpenMP environment: " + ", ".join(f"{k}={v}" for k, v in omp), flush=True)
    out = open(args.csv, "w") if args.csv else None
    if out:
        out.write(CSV_HEADER + "\n")
    rows, bad = [], 0
    try:
        for name in args.shapes:
            for dtype in args.dtypes:
                if dtype == "bf16" and not impls.bf16_available():
                    print(f"# {name} bf16 skipped: neither torch nor ml_dtypes", flush=True)
                    continue
                for target in args.targets:
                    problem = impls.Problem(name, SHAPES[name], dtype, target)
                    bad += run_problem(args, problem, out, rows)
                    del problem
    finally:
        if out:
            out.close()
    print(f"# load average at end: {os.getloadavg()}", flush=True)
    print_ratios(rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
