#!/usr/bin/env python3
"""Unit test of bench/rounds.py's summary on two hand-made rounds (CTest: bench_rounds_unit).

The expected speedups, verdicts and medians below were worked out by hand from the times in
the fixtures (PyTorch time / softce time), not produced by rounds.py."""

import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout, redirect_stderr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rounds  # noqa: E402

PEERS_HEAD = ("impl,version,shape,dims,dtype,target,op,threads,reps,median_ms,min_ms,max_ms,"
              "logits_bytes,gbps,loss")
BENCH_HEAD = ("impl,shape,dims,dtype,target,op,threads,reps,median_ms,min_ms,max_ms,"
              "logits_bytes,gbps,roof_ms,roof_gbps,t_over_roof,pct_roof,loss")


def peer(impl, shape, target, op, ms, dtype="f32", threads=2, version=None):
    version = version or ("1.13.0a0" if impl == "torch" else "1.1.0")
    return f"{impl},{version},{shape},{shape},{dtype},{target},{op},{threads},5,{ms},{ms},{ms},1,1,1"


def bench(shape, target, op, pct, threads=2, dtype="f32"):
    return f"softce,{shape},{shape},{dtype},{target},{op},{threads},5,1,1,1,1,1,1,1,1,{pct},1"


def round_files(times, pcts):
    """times: {(shape, target): (torch fwd, torch fused, softce fwd, fused, in place)}."""
    p = [PEERS_HEAD]
    for (shape, target), (tf, tb, sf, sb, si) in times.items():
        p += [peer("softce", shape, target, "forward", sf),
              peer("softce", shape, target, "fused", sb),
              peer("softce", shape, target, "fused_inplace", si),
              peer("torch", shape, target, "forward", tf),
              peer("torch", shape, target, "fused", tb)]
    # ignored: bf16 (not an outcome), PyTorch at 1 thread (not the largest count)
    p += [peer("softce", "8x262144", "soft", "fused", 1.0, dtype="bf16"),
          peer("torch", "8x262144", "soft", "fused", 1.0, dtype="bf16"),
          peer("softce", "8x262144", "soft", "fused", 1.0, threads=1),
          peer("torch", "8x262144", "soft", "fused", 1.0, threads=1)]
    b = [BENCH_HEAD]
    for (shape, target), pct in pcts.items():
        b.append(bench(shape, target, "fused_inplace", pct))
    # ignored: one thread, out of place, a shape that is not large row-major
    b += [bench("65536x1000", "hard", "fused_inplace", 1.0, threads=1),
          bench("65536x1000", "hard", "fused", 1.0),
          bench("8x262144", "hard", "fused_inplace", 1.0)]
    return "\n".join(p) + "\n", "\n".join(b) + "\n"


R1 = round_files({("65536x1000", "hard"): (100, 300, 10, 25, 15),   # 10x, 12x, 20x
                  ("8x262144", "soft"): (3.0, 6.0, 0.5, 1.0, 0.5)},  # 6x, 6x, 12x
                 {("65536x1000", "hard"): 60.0, ("65536x1000", "soft"): 42.0})  # 60, 63 %
R2 = round_files({("65536x1000", "hard"): (90, 300, 10, 20, 10),    # 9x, 15x, 30x
                  ("8x262144", "soft"): (4.0, 9.0, 0.5, 1.0, 0.6)},  # 8x, 9x, 15x
                 {("65536x1000", "hard"): 45.0, ("65536x1000", "soft"): 42.0})  # 45, 63 %


class Summary(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        for k, (p, b) in ((1, R1), (2, R2)):
            with open(os.path.join(self.dir.name, f"peers-r{k}.csv"), "w") as f:
                f.write(p)
            with open(os.path.join(self.dir.name, f"bench-r{k}.csv"), "w") as f:
                f.write(b)
        with open(os.path.join(self.dir.name, "started-r2.txt"), "w") as f:
            f.write("12-04 02:00 UTC\n")
        # a round without its softce_bench CSV is not a round
        with open(os.path.join(self.dir.name, "peers-r3.csv"), "w") as f:
            f.write(R1[0])

    def tearDown(self):
        self.dir.cleanup()

    def summary(self):
        out = io.StringIO()
        path = os.path.join(self.dir.name, "summary.md")
        with redirect_stdout(out):
            rc = rounds.main(["--dir", self.dir.name, "--no-run", "--out", path])
        self.assertEqual(rc, 0)
        with open(path) as f:
            self.assertEqual(f.read(), out.getvalue())
        return out.getvalue()

    def test_rounds(self):
        s = self.summary()
        self.assertIn("| 1 | - | 6.00x (8x262144 soft) | 6.00x (8x262144 soft) | "
                      "60.00 % (65536x1000 hard) | **not met** |", s)
        self.assertIn("| 2 | 12-04 02:00 UTC | 9.00x (8x262144 soft) | 8.00x (8x262144 soft) | "
                      "45.00 % (65536x1000 hard) | **not met** |", s)
        self.assertNotIn("| 3 |", s)
        self.assertIn("Every goal met in 0 of 2 rounds; fused >= 8x in 1, forward >= 5x in 2, "
                      "the roofline goal in 1.", s)

    def test_cases(self):
        s = self.summary()
        self.assertIn("| 65536x1000 | hard | 10.0x / 9.0x (9.5x) | 12.0x / 15.0x (13.5x) | "
                      "20.0x / 30.0x (25.0x) | 60.0 % / **45.0 %** (52.5 %) |", s)
        self.assertIn("| 8x262144 | soft | 6.0x / 8.0x (7.0x) | **6.0x** / 9.0x (7.5x) | "
                      "12.0x / 15.0x (13.5x) | - |", s)
        # the roofline of the soft row-major case, which has no peers.py rows
        self.assertIn("| 65536x1000 | soft | - | - | - | 63.0 % / 63.0 % (63.0 %) |", s)
        self.assertIn("Judged on each case's median over the rounds: fused worst 7.50x "
                      "(8x262144 soft), forward worst 7.00x (8x262144 soft), roofline worst "
                      "52.50 % (65536x1000 hard); fused not met, forward met, roofline met.", s)

    def test_empty_dir(self):
        with tempfile.TemporaryDirectory() as d, redirect_stderr(io.StringIO()) as err:
            self.assertEqual(rounds.main(["--dir", d, "--no-run"]), 1)
        self.assertIn("no rounds in", err.getvalue())


if __name__ == "__main__":
    unittest.main()
