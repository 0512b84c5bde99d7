#!/bin/sh
# Configure (against the system Python) and build src/.libs/mod_python.so.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    autoconf
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ] || [ Makefile.in -nt Makefile ]; then
    ./configure --with-python="${MP_PYTHON:-/usr/bin/python3}" ${MP_CONFIGURE_ARGS:-}
fi
make
