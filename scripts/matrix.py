"""The whole test suite against every CPython found (scripts/pythons.py):
the system's 3.11, pyenv's 3.12 and 3.13.  For each: the module built in
build/matrix/<version> (a copy of the repository's files, warnings as
errors), that tree's Check units (make check-unit), then the repository's
integration tests against that build (MP_MODULE; MP_PYTHON_HOME, the
prefix, becomes PythonHome in every configuration).  A version that is not
installed is skipped.  Ends with a table; exits 1 if anything failed.

    /usr/bin/python3 scripts/matrix.py [--skip-system] [VERSION ...] [-- PYTEST_ARGS]

VERSION: system (or its version, 3.11), 3.12, 3.13; default: all found.
"""
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pythons

SYSTEM_MINOR = subprocess.run([pythons.SYSTEM, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, check=True).stdout.strip()


def minutes(seconds):
    return "%dm%02ds" % divmod(int(seconds), 60)


def counts(junit):
    """(passed, failed, skipped) from pytest's JUnit XML."""
    n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in ET.parse(junit).getroot().iter("testsuite"):
        for k in n:
            n[k] += int(suite.get(k, 0))
    failed = n["failures"] + n["errors"]
    return n["tests"] - failed - n["skipped"], failed, n["skipped"]


def run_version(minor, prefix, pytest_args):
    """Build, Check units, integration tests: one row of the table."""
    tree = os.path.join(pythons.ROOT, "build", "matrix", minor)
    print("\n== Python %s (%s): build in %s" % (minor, prefix or pythons.SYSTEM, tree), flush=True)
    try:
        so = pythons.build(tree, minor, prefix)
    except RuntimeError as e:
        print(e, flush=True)
        return ["build failed", "-", "-", "-"]
    print("== Python %s: Check units" % minor, flush=True)
    env = dict(os.environ)
    if prefix:
        env["LD_LIBRARY_PATH"] = os.path.join(prefix, "lib")
    unit = subprocess.run(["make", "-s", "check-unit"] + pythons.make_args(minor, prefix),
                          cwd=tree, env=env).returncode
    print("== Python %s: integration tests" % minor, flush=True)
    env = dict(os.environ, MP_MODULE=so)
    if prefix:
        env["MP_PYTHON_HOME"] = prefix
    junit = os.path.join(tree, "junit.xml")
    chosen = any(a.startswith("test/") for a in pytest_args)   # some files or tests
    subprocess.run([pythons.SYSTEM, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "--junitxml", junit] + ([] if chosen else ["test/integration"]) + pytest_args,
                   cwd=pythons.ROOT, env=env)
    result = counts(junit) if os.path.exists(junit) else ("-", "pytest failed", "-")
    return ["passed" if unit == 0 else "FAILED"] + list(result)


def main(argv):
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    skip_system = "--skip-system" in argv
    asked = [a for a in argv if a != "--skip-system"]
    builds = pythons.pyenv_builds()
    versions = ["system"] + sorted(builds)
    if asked:
        versions = ["system" if a == SYSTEM_MINOR else a for a in asked]
    rows, failed, began = [], False, time.monotonic()
    for v in versions:
        if v == "system" and skip_system:
            continue
        if v != "system" and v not in builds:
            print("\n== Python %s: not installed (no pyenv build with a shared libpython "
                  "under %s), skipped" % (v, pythons.pyenv_root()), flush=True)
            rows.append([v, "not installed", "-", "-", "-", "-"])
            continue
        start = time.monotonic()
        prefix = pythons.readable_copy(builds[v]) if v != "system" else None
        row = run_version(SYSTEM_MINOR if v == "system" else v, prefix, pytest_args)
        failed |= row[0] != "passed" or row[2] != 0
        label = "%s (system)" % SYSTEM_MINOR if v == "system" else os.path.basename(prefix)
        rows.append([label] + row + [minutes(time.monotonic() - start)])
    head = ["Python", "Check", "passed", "failed", "skipped", "time"]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print("\n== matrix")
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print("total %s: %s" % (minutes(time.monotonic() - began), "FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
