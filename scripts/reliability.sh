#!/bin/sh
# Reliability and security, in full (issue 4): the fast subset of all this
# already runs in scripts/test.sh.
#   1. the importer's Check suite under valgrind memcheck and under
#      ASan + UBSan (a separate --enable-asan build in build/asan);
#   2. the integration suite against that ASan build of the module, loaded
#      into httpd with the sanitizer runtimes preloaded: zero reports;
#   3. load with modules rewritten under it for 30 s (64 connections,
#      8 vhosts, half of the writes in place and in pieces), with and
#      without on_reload_error keep, and 20 graceful restarts under load,
#      event and worker (all of test/integration/test_stress.py);
#   4. figures for a 64 MB body read by readline() and read(), for a
#      20000-frame traceback with PythonDebug On (bench/body.py), and for
#      handlers returning SUSPENDED and other values httpd must not get
#      (bench/suspended.py);
#   5. 20 graceful restarts under wrk load for each MPM: socket errors of
#      the C handler and mod_python beside a static-file server's
#      (bench/restarts.py);
#   6. the fuzz target for names, paths and handler specs (FUZZ_SECONDS).
set -eu
cd "$(dirname "$0")/.."
MP_EXTRA_PKGS="clang libclang-rt-14-dev wrk" sh scripts/deps.sh
sh scripts/build.sh

echo "== valgrind: Check suite"
make check-valgrind

echo "== ASan + UBSan build (build/asan)"
rm -rf build/asan
mkdir -p build/asan
git ls-files -z | xargs -0 cp --parents -t build/asan
(cd build/asan && autoconf && ./configure -q --with-python="${MP_PYTHON:-/usr/bin/python3}" --enable-asan \
    && make >/dev/null && make check-asan)

echo "== integration suite against the ASan module"
MP_ASAN=1 MP_MODULE="$PWD/build/asan/src/.libs/mod_python.so" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider test/integration \
    --deselect test/integration/test_stress.py

echo "== load, rewrites and graceful restarts (full length)"
MP_STRESS_SECONDS=30 MP_STRESS_RESTARTS=20 \
    /usr/bin/python3 -m pytest -q -s -p no:cacheprovider test/integration/test_stress.py

echo "== request bodies and long tracebacks: figures (bench/body.py)"
/usr/bin/python3 bench/body.py

echo "== handlers returning values httpd must not get (SUSPENDED, filter codes)"
/usr/bin/python3 bench/suspended.py

echo "== graceful restarts under wrk load, beside a static-file server (bench/restarts.py)"
/usr/bin/python3 bench/restarts.py

echo "== fuzzing for ${FUZZ_SECONDS:-60} s"
make fuzz

echo "reliability: all passed"
