#!/bin/sh
# Install what building and testing mod_python needs, from Debian/Ubuntu's
# archive, when it is missing.  Needs root (or sudo) only if something is.
set -eu
PKGS="apache2 apache2-dev python3-dev check python3-pytest autoconf pkg-config gcc make libc6-dev valgrind gdb python3-flask python3-django"
[ "${MP_EXTRA_PKGS:-}" ] && PKGS="$PKGS $MP_EXTRA_PKGS"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "mod_python: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
# The Debian package starts a system apache2 on port 80: we never use it.
if [ -x /usr/sbin/service ] && echo "$missing" | grep -q apache2; then
    $SUDO service apache2 stop >/dev/null 2>&1 || true
fi
