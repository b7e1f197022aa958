#!/usr/bin/env python3
"""Times two commands interleaved, so that drift on a shared machine lands on both.

    bench/interleave.py [--runs N] [--warmup W] [--json FILE] NAME_A CMD_A NAME_B CMD_B

CMD_A and CMD_B are split with shlex and run without a shell. After W warm-up
rounds (not timed), each of N rounds runs both commands once, A then B in even
rounds and B then A in odd ones, each timed with time.perf_counter around
subprocess.run (stdin, stdout and stderr on /dev/null). A run that exits
non-zero aborts the whole measurement (exit 1, naming the command).

Prints a short summary on stderr and, on stdout, one line
`MEDIAN_A MEDIAN_B` (seconds) for scripts; --json writes every time and the
statistics: the ratio is A/B, both of the medians and per round.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time


def run_once(name, argv):
    start = time.perf_counter()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        # Output is discarded so that both commands pay the same; run it by hand to see why.
        sys.stderr.write(f"interleave: {name} exited {proc.returncode}: {shlex.join(argv)}\n")
        sys.exit(1)
    return elapsed


def quartiles(values):
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json")
    p.add_argument("name_a")
    p.add_argument("cmd_a")
    p.add_argument("name_b")
    p.add_argument("cmd_b")
    args = p.parse_args()
    if args.runs < 2 or args.warmup < 0:
        p.error("--runs must be at least 2 and --warmup at least 0")
    cmds = [(args.name_a, shlex.split(args.cmd_a)), (args.name_b, shlex.split(args.cmd_b))]

    for _ in range(args.warmup):
        for name, argv in cmds:
            run_once(name, argv)
    times = ([], [])
    for r in range(args.runs):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        for i in order:
            times[i].append(run_once(*cmds[i]))

    med_a, med_b = statistics.median(times[0]), statistics.median(times[1])
    rounds = [a / b for a, b in zip(*times)]
    q1, q3 = quartiles(rounds)
    result = {
        "names": [args.name_a, args.name_b],
        "commands": [args.cmd_a, args.cmd_b],
        "runs": args.runs,
        "warmup": args.warmup,
        "times_s": {args.name_a: times[0], args.name_b: times[1]},
        "median_s": {args.name_a: med_a, args.name_b: med_b},
        "ratio_of_medians": med_a / med_b,
        "round_ratio": {"median": statistics.median(rounds), "q1": q1, "q3": q3,
                        "min": min(rounds), "max": max(rounds)},
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    for name, t in zip(result["names"], times):
        lo, hi = quartiles(t)
        sys.stderr.write(f"interleave: {name}: median {statistics.median(t) * 1e3:.2f} ms "
                         f"(IQR {lo * 1e3:.2f}-{hi * 1e3:.2f}, min {min(t) * 1e3:.2f}, "
                         f"{len(t)} runs)\n")
    rr = result["round_ratio"]
    sys.stderr.write(f"interleave: {args.name_a} / {args.name_b}: ratio of medians "
                     f"{result['ratio_of_medians']:.3f}; per round median {rr['median']:.3f}, "
                     f"IQR {rr['q1']:.3f}-{rr['q3']:.3f}, min {rr['min']:.3f}, "
                     f"max {rr['max']:.3f}\n")
    print(med_a, med_b)


if __name__ == "__main__":
    main()
