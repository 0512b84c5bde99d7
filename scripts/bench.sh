#!/bin/sh
# Benchmarks: install what we compare against (mod_python 3.5, mod_wsgi,
# wrk) when missing, build, then (each writes its section of
# bench/RESULTS.md): bench/all.py, CPU time and instructions per request
# side by side (its options: --seconds, --rounds, --quick, --jobs);
# bench/workers.py, worker vs event MPM and GIL hold time; bench/coldstart.py,
# start-up with 1, 10 and 100 virtual hosts.
set -eu
cd "$(dirname "$0")/.."
MP_EXTRA_PKGS="libapache2-mod-python libapache2-mod-wsgi-py3 wrk util-linux" sh scripts/deps.sh
sh scripts/build.sh >/dev/null
/usr/bin/python3 bench/all.py "$@"
/usr/bin/python3 bench/workers.py
/usr/bin/python3 bench/coldstart.py
