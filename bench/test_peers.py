#!/usr/bin/env python3
"""Unit test of bench/peers.py's timing loop (CTest: bench_peers_unit): with fake runners that
record their calls, the order of the calls (back to back, or one of each case in turn with
--interleave, each round in a new order and no case twice in a row), the stopping rule (at least
warmup + reps calls, more until min_time seconds of timed calls, at most max_reps), and that
warm-up calls are not samples. The expected call sequences, counts and properties below are
written out by hand."""

import os
import sys
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402


class Clock:
    """A fake time.perf_counter: each runner call advances it by the runner's cost."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


class FakeProblem:
    def __init__(self, log):
        self.log = log

    def restore(self):
        self.log.append("restore")


class FakeRunner:
    def __init__(self, name, cost, clock, log):
        self.name, self.cost, self.clock, self.log = name, cost, clock, log
        self.ops = ("forward", "fused")

    def prepare(self, op):
        return None

    def run(self, op, _):
        self.log.append(f"{self.name}:{op}")
        self.clock.now += self.cost[op]
        return 1.5


def args(reps, warmup, min_time, max_reps):
    return types.SimpleNamespace(reps=reps, warmup=warmup, min_time=min_time, max_reps=max_reps)


class TimingLoop(unittest.TestCase):
    def setUp(self):
        self.clock, self.log = Clock(), []
        self.saved = peers.time
        peers.time = self.clock  # Case.step reads time.perf_counter()
        self.problem = FakeProblem(self.log)

    def tearDown(self):
        peers.time = self.saved

    def calls(self):
        return [e for e in self.log if e != "restore"]

    def test_back_to_back(self):
        a = args(reps=2, warmup=1, min_time=0.0, max_reps=10)
        r = FakeRunner("a", {"forward": 1.0, "fused": 2.0}, self.clock, self.log)
        cases = [peers.Case(r, "forward", a), peers.Case(r, "fused", a)]
        peers.time_cases(cases, self.problem, False)
        self.assertEqual(self.calls(), ["a:forward"] * 3 + ["a:fused"] * 3)
        self.assertEqual(self.log.count("restore"), 6)  # before every call
        self.assertEqual(cases[0].samples, [1.0, 1.0])  # the warm-up call is not a sample
        self.assertEqual(cases[1].result(), (2.0, 2.0, 2.0, 2, 1.5))

    def test_interleave_round_robin_until_each_is_done(self):
        # a's forward takes 0.5 s: 3 calls (1 warm-up + 2 reps) give 1.0 s >= min_time 1.0;
        # b's forward takes 0.1 s: min_time asks for 10 timed calls, max_reps caps them at 6.
        a = args(reps=2, warmup=1, min_time=1.0, max_reps=6)
        ra = FakeRunner("a", {"forward": 0.5, "fused": 0.5}, self.clock, self.log)
        rb = FakeRunner("b", {"forward": 0.1, "fused": 0.1}, self.clock, self.log)
        cases = [peers.Case(ra, "forward", a), peers.Case(rb, "forward", a)]
        peers.time_cases(cases, self.problem, True)
        calls = self.calls()
        # three rounds of both (one call each, never the same twice in a row), then b alone
        self.assertEqual(sorted(calls[:6]), ["a:forward"] * 3 + ["b:forward"] * 3)
        self.assertTrue(all(x != y for x, y in zip(calls[:6], calls[1:6])), calls)
        self.assertEqual(calls[6:], ["b:forward"] * 4)
        self.assertEqual(len(cases[0].samples), 2)
        self.assertEqual(len(cases[1].samples), 6)
        med, lo, hi, n, loss = cases[1].result()
        self.assertAlmostEqual(med, 0.1, places=12)
        self.assertEqual((n, loss), (6, 1.5))

    def test_interleave_varies_the_order(self):
        # three cases of equal cost, twelve calls each: twelve rounds of one call per case
        a = args(reps=12, warmup=0, min_time=0.0, max_reps=20)
        r = FakeRunner("a", {"forward": 1.0, "fused": 1.0, "fused_inplace": 1.0}, self.clock,
                       self.log)
        r.ops = ("forward", "fused", "fused_inplace")
        cases = [peers.Case(r, op, a) for op in r.ops]
        peers.time_cases(cases, self.problem, True)
        calls = self.calls()
        self.assertEqual(len(calls), 36)
        rounds = [tuple(calls[k:k + 3]) for k in range(0, 36, 3)]
        for rnd in rounds:  # each round: every case once
            self.assertEqual(sorted(rnd), ["a:forward", "a:fused", "a:fused_inplace"])
        self.assertTrue(all(x != y for x, y in zip(calls, calls[1:])))  # never twice in a row
        self.assertGreater(len(set(rounds)), 1)  # not one fixed order
        # every case follows each of the other two at some point
        pairs = set(zip(calls, calls[1:]))
        for x in r.ops:
            for y in r.ops:
                if x != y:
                    self.assertIn((f"a:{x}", f"a:{y}"), pairs)

    def test_interleave_same_counts_as_back_to_back(self):
        a = args(reps=3, warmup=2, min_time=0.0, max_reps=10)
        for interleave in (False, True):
            self.log.clear()
            r = FakeRunner("a", {"forward": 1.0, "fused": 1.0}, self.clock, self.log)
            cases = [peers.Case(r, op, a) for op in ("forward", "fused")]
            peers.time_cases(cases, self.problem, interleave)
            self.assertEqual([len(c.samples) for c in cases], [3, 3])
            self.assertEqual(self.calls().count("a:fused"), 5)


if __name__ == "__main__":
    unittest.main()
