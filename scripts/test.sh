#!/bin/sh
# Build everything and run the whole test suite: the Check units, then the
# integration tests against real httpd servers (prefork, worker, event).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
/usr/bin/python3 scripts/structure.py   # layers one way down; file and function sizes
make check-unit
make check-valgrind   # the same suite under valgrind memcheck: must be clean
/usr/bin/python3 -m pytest -q -p no:cacheprovider test/integration "$@"
