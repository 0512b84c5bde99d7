"""Both figures of issue 16 for the same servers, in one command: CPU time
per request (bench/run.py: wrk against an event MPM httpd, what users
feel) and CPU instructions per request (bench/instructions.py: callgrind,
httpd -X, what the targets are judged by), then the two side by side.

Writes all three into bench/RESULTS.md: run.py's top of the file, the
instructions section, and a side-by-side section; prints the last.

Usage: /usr/bin/python3 bench/all.py [--seconds N] [--rounds N] [--quick]
           [--jobs J]
(run.py's and instructions.py's options; scripts/bench.sh runs this.)
"""
import argparse
import statistics
import sys
import time

import common
import instructions
import run
from common import KEYS, LABEL

TITLE = "## CPU time and instructions per request, side by side (bench/all.py)"


def report(env, cpu, rps, ins, args):
    c_cpu, c_ins = statistics.median(cpu["c"]), ins["ipr"]["c"]
    floor_cpu, floor_ins = statistics.median(cpu["floor"]), ins["ipr"]["floor"]
    lines = [TITLE, "",
             "`sh scripts/bench.sh` (bench/all.py): the same workloads (bench/common.py) "
             "measured both ways in one run. CPU time: event MPM, one child of 16 threads, "
             "%d interleaved rounds of %d s, wrk -t1 -c8, median (the table at the top of "
             "this file). Instructions: callgrind, prefork httpd -X, N=%d minus N=%d "
             "keep-alive requests (the section \"CPU instructions per request\")."
             % (args.rounds, args.seconds, args.n2, args.n1), "",
             "Date: %(date)s  " % env, "Machine: %(machine)s  " % env,
             "httpd: %(httpd)s; Python %(python)s  " % env, "",
             "| server | CPU µs per request | CPU / C | CPU / floor | instructions per request "
             "| instructions / C | instructions / floor | requests/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key in KEYS:
        t, i = statistics.median(cpu[key]), ins["ipr"][key]
        lines.append("| %s | %.1f | %.2f | %.2f | %.0f | %.2f | %.3f | %.0f |" % (
            LABEL[key], t, t / c_cpu, t / floor_cpu, i, i / c_ins, i / floor_ins,
            statistics.median(rps[key])))
    lines += ["", "CPU time includes the kernel's share (system calls, network) and swings "
              "10-30%% between runs on this shared machine; instructions are user space only "
              "and repeat within %.3f%% here, so their ratios are smaller and steadier."
              % (100 * max(ins["spread"].values()))]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    run.arguments(ap)
    instructions.arguments(ap)
    args = ap.parse_args()
    t0 = time.time()
    common.build_c_modules()
    env = common.environment()
    data = run.measure_all(args)
    ins = instructions.measure_all(args)
    top = run.report(env, data, args)
    section = instructions.report(ins["env"], ins["ipr"], ins["spread"], ins["allocs"], args,
                                  ins["took"], ins["breakdowns"])
    both = report(env, data["cpu"], data["rps"], ins, args)
    common.save_head(top)
    common.save(section)
    common.save(both)
    print(top + "\n" + section + "\n" + both)
    print("took %.1f min" % ((time.time() - t0) / 60), file=sys.stderr)


if __name__ == "__main__":
    main()
