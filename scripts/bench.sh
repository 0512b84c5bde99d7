#!/bin/sh
# Benchmarks: install what we compare against (mod_python 3.5, mod_wsgi,
# wrk) when missing, build, run bench/run.py (writes bench/RESULTS.md).
set -eu
cd "$(dirname "$0")/.."
MP_EXTRA_PKGS="libapache2-mod-python libapache2-mod-wsgi-py3 wrk util-linux" sh scripts/deps.sh
sh scripts/build.sh >/dev/null
exec /usr/bin/python3 bench/run.py "$@"
