#!/bin/sh
# Build everything and start a demo httpd on 127.0.0.1 serving demo/.
# "scripts/demo.sh stop" stops it.
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = "stop" ]; then
    exec /usr/bin/python3 demo/run_demo.py stop
fi
sh scripts/deps.sh
sh scripts/build.sh >/dev/null 2>&1 || sh scripts/build.sh
exec /usr/bin/python3 demo/run_demo.py start
