"""Worker MPM against event, hello world, one child of 2 threads: requests/s,
server CPU per request, and the time the GIL is held per request (issue 16,
"also measure"; printed, no target).

Servers: the C handler, the Python floor and mod_python 4's hello world
(bench/common.py), and the last with PythonAutoReload Off, each under
worker and under event: one child of 2
threads, httpd pinned to CPU 0, wrk -t1 -c2 (one connection per thread:
worker keeps a thread for each keep-alive connection, so more connections
than threads would only wait) pinned to CPU 1; interleaved rounds, medians.

GIL hold time: bench/gilhold.c, preloaded into the Python servers, adds
up the wall-clock time from the moment a thread has taken the GIL (the
return of PyEval_RestoreThread, PyEval_AcquireThread, PyGILState_Ensure)
to the moment it gives it back (the entry of PyEval_SaveThread,
PyEval_ReleaseThread, PyGILState_Release), for the calls the module makes
into libpython; per request = the sum over the measured seconds / the
requests wrk completed.  Time the thread spends descheduled while it holds
the GIL counts (no other thread can run Python then); a release inside
libpython itself would not be seen (the hello worlds make none).  Beside
it, for scale: the server CPU per request over the C handler's, the upper
bound of what the Python path can cost.  The shim costs two
clock_gettime(CLOCK_MONOTONIC) calls per hold (vDSO, no system call).

Usage: /usr/bin/python3 bench/workers.py [--seconds N] [--rounds N]
Prints a section and puts it into bench/RESULTS.md.
"""
import os
import statistics
import struct
import subprocess
import sys
import time

import common
from common import one_child

TITLE = "## Worker vs event MPM, 2 threads per child: throughput and GIL hold (bench/workers.py)"
SHIM = os.path.join(common.HERE, "build", "gilhold.so")
KEYS = ["c", "floor", "mp4", "mp4_noreload"]
# mod_python 4's hello world without the per-request change check: what
# that check (with its read() of the inotify descriptor) holds the GIL for.
NORELOAD = "PythonAutoReload Off\n" + common.APP % "hello"
MPMS = ["worker", "event"]
THREADS = 2


def build_shim():
    config = sys.executable + "-config"
    soname = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig."
                             "get_config_var('INSTSONAME'))"], capture_output=True, text=True,
                            check=True).stdout.strip()
    flags = subprocess.run([config, "--includes"], capture_output=True, text=True,
                           check=True).stdout.split()
    os.makedirs(os.path.dirname(SHIM), exist_ok=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", '-DLIBPYTHON="%s"'
                    % soname] + flags + ["-o", SHIM, os.path.join(common.HERE, "gilhold.c"),
                                         "-ldl"], check=True)


def servers():
    """{(mpm, key): Httpd}; the Python ones with the shim and its file."""
    s = {}
    try:
        for mpm in MPMS:
            settings = one_child(mpm, THREADS) + "KeepAliveTimeout 30\n"
            for key, h in common.servers(KEYS[:3], settings, mpm).items():
                s[mpm, key] = h
            s[mpm, "mp4_noreload"] = common.server("mp4_noreload", {"hello.py": common.HELLO},
                                                   NORELOAD, mpm_settings=settings, mpm=mpm)
            for key in KEYS:
                h = s[mpm, key]
                h.name = "%s-%s" % (key, mpm)
                if key != "c":
                    h.gil_file = h.path("gilhold")
                    with open(h.gil_file, "wb") as f:
                        f.write(bytes(16))
                    h.extra_env.update({"LD_PRELOAD": SHIM, "GILHOLD_FILE": h.gil_file})
    except BaseException:
        common.cleanup(s)
        raise
    return s


def gil(h):
    """(ns held, holds) so far, all processes of h; (0, 0) without the shim."""
    if not hasattr(h, "gil_file"):
        return 0, 0
    with open(h.gil_file, "rb") as f:
        return struct.unpack("QQ", f.read(16))


def measure(h, seconds):
    """{cpu, rps, held, holds, share}: per request over `seconds` of wrk."""
    common.wrk(h, 1, h.url, THREADS)  # warm up
    c0, g0, t0 = common.cpu_seconds(h), gil(h), time.time()
    reqs = common.wrk(h, seconds, h.url, THREADS)
    took = time.time() - t0
    c1, g1 = common.cpu_seconds(h), gil(h)
    return {"cpu": (c1 - c0) / reqs * 1e6, "rps": reqs / took,
            "held": (g1[0] - g0[0]) / reqs / 1e3, "holds": (g1[1] - g0[1]) / reqs,
            "share": (g1[0] - g0[0]) / 1e9 / took}


def rounds(s, args):
    """{(mpm, key): {figure: [value per round]}}."""
    out = {k: {} for k in s}
    try:
        for k, h in s.items():
            common.start_checked(h)
            if k[1] != "c" and gil(h)[1] == 0:
                raise RuntimeError("%s: the GIL shim saw nothing" % h.name)
        for rnd in range(args.rounds):
            for k, h in s.items():
                m = measure(h, args.seconds)
                for fig, v in m.items():
                    out[k].setdefault(fig, []).append(v)
                print("round %d %-12s %7.1f µs/req %8.0f req/s GIL %.2f µs/req" % (
                    rnd + 1, h.name, m["cpu"], m["rps"], m["held"]), file=sys.stderr)
    finally:
        common.cleanup(s)
    return out


LABELS = {"c": "C handler", "floor": "Python floor", "mp4": "mod_python 4, hello world",
          "mp4_noreload": "mod_python 4, same, PythonAutoReload Off"}


def report(env, r, args):
    med = {k: {fig: statistics.median(v) for fig, v in figs.items()} for k, figs in r.items()}
    lines = [TITLE, "",
             "Issue 16.  `/usr/bin/python3 bench/workers.py`: one child of %d threads, "
             "httpd pinned to CPU 0, wrk -t1 -c%d pinned to CPU 1, %d interleaved rounds of "
             "%d s, medians." % (THREADS, THREADS, args.rounds, args.seconds), "",
             "Date: %(date)s  " % env, "Machine: %(machine)s  " % env,
             "httpd: %(httpd)s; Python %(python)s  " % env,
             "GIL hold time: wall-clock time from the return of the call by which the "
             "module takes the GIL (PyEval_RestoreThread, PyEval_AcquireThread, "
             "PyGILState_Ensure) to the entry of the call that gives it back, interposed by "
             "an LD_PRELOAD library (bench/gilhold.c), summed over the measured seconds and "
             "divided by the requests (a thread descheduled while holding it still counts: "
             "nobody else runs Python then); \"GIL busy\" is that sum over the elapsed "
             "time.  "
             "\"CPU over C\" (server CPU per request minus the C handler's under the same "
             "MPM) is the upper bound of what the Python path costs, for scale.", "",
             "| MPM | server | requests/s | CPU µs per request | CPU over C, µs | "
             "GIL held, µs per request | GIL takes per request | GIL busy |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for mpm in MPMS:
        for key in KEYS:
            m = med[mpm, key]
            python = key != "c"
            lines.append("| %s | %s | %.0f | %.1f | %s | %s | %s | %s |" % (
                mpm, LABELS[key], m["rps"], m["cpu"],
                "%.1f" % (m["cpu"] - med[mpm, "c"]["cpu"]) if python else "",
                "%.2f" % m["held"] if python else "",
                "%.1f" % m["holds"] if python else "",
                "%.0f%%" % (100 * m["share"]) if python else ""))
    w, e = med["worker", "mp4"], med["event", "mp4"]
    lines += ["", "mod_python 4, worker / event: requests/s %.2f, CPU per request %.2f, "
              "GIL held per request %.2f." % (w["rps"] / e["rps"], w["cpu"] / e["cpu"],
                                              w["held"] / e["held"])]
    return "\n".join(lines) + "\n"


def main():
    args = common.round_args()
    common.build_c_modules()
    build_shim()
    env = common.environment()
    text = report(env, rounds(servers(), args), args)
    common.save(text)
    print(text)


if __name__ == "__main__":
    main()
