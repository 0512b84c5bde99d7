"""make install / make uninstall: mod_python's files, in one list.

    python3 scripts/install.py install|uninstall --moddir DIR --sitedir DIR
        --bindir DIR [--modsdir DIR] [--destdir DIR] [--force]

Run by the Python the module was built for (the Makefile's $(PYTHON)): the
package is byte-compiled for it and the `mod_python` command runs it.

What is installed (plan() is the one list, for both directions):
  MODDIR/mod_python.so                  the module
  SITEDIR/mod_python/*.py (+ .pyc)      the package, version.py included
  BINDIR/mod_python                     the command: PYTHON -m mod_python.cli
  MODSDIR/python.load, python.conf      Debian's a2enmod layout, if MODSDIR

Nothing is overwritten that is not ours: a file a Debian package owns
(dpkg -S), or one that is not mod_python 4's (see ours()), stops the
install before anything is written, unless --force (make install FORCE=1),
which replaces it and says so.  uninstall removes only files that are ours.
"""
import argparse
import glob
import importlib.util
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILT_MODULE = os.path.join(ROOT, "src", ".libs", "mod_python.so")
PACKAGE = os.path.join(ROOT, "lib", "python", "mod_python")
# In every text file we generate: how uninstall and a later install know it.
MARK = "Installed by mod_python 4's make install"
# Our module says so in its server version component (mod_python.c):
# 3.5's says mod_python/3.5.
SO_MARK = b"mod_python/4."
# Our package's version.py (from version.py.in) says version = "4...."
PACKAGE_MARK = re.compile(r'^version = "4\.', re.M)


class Item:
    """One installed file: `dest` (without DESTDIR), made from the file
    `source` or the text `text`, recognised as ours by `kind`."""

    def __init__(self, kind, dest, mode, source=None, text=None):
        self.kind, self.dest, self.mode = kind, dest, mode
        self.source, self.text = source, text


def launcher(python, sitedir):
    """The `mod_python` command: the built-for Python, absolute, running
    the installed package's cli.  PYTHONPATH names the site dir only when
    that Python does not search it already (an install elsewhere)."""
    lines = ["#!/bin/sh", "# %s: the mod_python command." % MARK]
    if sitedir not in default_sys_path(python):
        lines.append('PYTHONPATH="%s${PYTHONPATH:+:$PYTHONPATH}"; export PYTHONPATH'
                     % sitedir)
    lines.append('exec %s -m mod_python.cli "$@"' % python)
    return "\n".join(lines) + "\n"


def load_text(moddir):
    return ("# %s.\n# `a2enmod python` enables it; see python.conf.\n"
            "LoadModule python_module %s\n" % (MARK, os.path.join(moddir, "mod_python.so")))


# Nothing active: enabling the module changes no site until a
# configuration says SetHandler mod_python (or another Python* directive).
CONF_TEXT = """\
# %s.
# a2enmod python loads the module (python.load); nothing here is active.
# A minimal setup, to copy into a <VirtualHost> (see doc/install.md):
#
# <Directory /var/www/py>
#     SetHandler mod_python
#     PythonHandler mod_python.publisher
#     # PythonAutoReload Off     # production: no checks for changed modules
# </Directory>
""" % MARK


def plan(a):
    """Everything install writes, in order; uninstall removes the same."""
    items = [Item("so", os.path.join(a.moddir, "mod_python.so"), 0o755, source=BUILT_MODULE)]
    for src in sorted(glob.glob(os.path.join(PACKAGE, "*.py"))):
        dest = os.path.join(a.sitedir, "mod_python", os.path.basename(src))
        items.append(Item("py", dest, 0o644, source=src))
    items.append(Item("text", os.path.join(a.bindir, "mod_python"), 0o755,
                      text=launcher(a.python, a.sitedir)))
    if a.modsdir:
        items.append(Item("text", os.path.join(a.modsdir, "python.load"), 0o644,
                          text=load_text(a.moddir)))
        items.append(Item("text", os.path.join(a.modsdir, "python.conf"), 0o644,
                          text=CONF_TEXT))
    return items


def default_sys_path(python):
    """sys.path of `python` started without PYTHON* variables."""
    r = subprocess.run([python, "-I", "-c", "import sys; print('\\n'.join(sys.path))"],
                       capture_output=True, text=True, check=True)
    return r.stdout.split("\n")


def dpkg_owner(path):
    """The Debian package that installed `path`, or None."""
    if not shutil.which("dpkg-query"):
        return None
    r = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return r.stdout.split(":")[0].strip()


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return b"" if "b" in mode else ""


def ours(kind, path):
    """Whether the existing `path` was installed by mod_python 4."""
    if kind == "so":
        return SO_MARK in read(path, "rb")
    if kind == "py":     # the package as a whole: by its version.py
        return bool(PACKAGE_MARK.search(read(os.path.join(os.path.dirname(path),
                                                          "version.py"))))
    return MARK in read(path)


def foreign(kind, path):
    """Why the existing `path` is not ours to replace or remove ("" when
    it is ours or absent)."""
    if not os.path.lexists(path):
        return ""
    owner = dpkg_owner(path)
    if owner:
        return "belongs to the Debian package %s" % owner
    if not ours(kind, path):
        return "was not installed by mod_python 4"
    return ""


def conflicts(a, items):
    """(path, reason) of what install would overwrite that is not ours; the
    package directory counts once, for all its files."""
    out, seen_package = [], False
    for it in items:
        path = a.destdir + it.dest
        if it.kind == "py":
            if seen_package:
                continue
            seen_package = True
            path = os.path.dirname(path)
            if not os.path.lexists(path):
                continue
            owner = dpkg_owner(path)
            why = "belongs to the Debian package %s" % owner if owner else ""
            if not why and not ours("py", os.path.join(path, "version.py")):
                why = "is not mod_python 4's package (its version.py says otherwise)"
        else:
            why = foreign(it.kind, path)
        if why:
            out.append((path, why))
    return out


def content(a, it):
    """The bytes `it` installs.  The installed version.py names the module
    directory it was installed into (LIBEXECDIR, where the command finds
    the module), which make install's variables may have changed."""
    if it.text is not None:
        return it.text.encode()
    data = read(it.source, "rb")
    if it.kind == "py" and os.path.basename(it.dest) == "version.py":
        data = re.sub(rb'^LIBEXECDIR = ".*"$',
                      b'LIBEXECDIR = "%s"' % a.moddir.encode(), data, flags=re.M)
    return data


def write(path, data, mode):
    """Replace `path` by a new file (rename): a running httpd keeps the old
    module mapped intact, where copying over it in place would not."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".mp-install-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def pyc_files(path):
    """The byte-code files of `path` this Python writes (plain, -O, -OO)."""
    return [importlib.util.cache_from_source(path, optimization=o) for o in ("", 1, 2)]


def install(a):
    items = plan(a)
    missing = [p for p in (BUILT_MODULE, os.path.join(PACKAGE, "version.py"))
               if not os.path.isfile(p)]
    if missing:
        sys.exit("mod_python: build first (make): missing %s" % ", ".join(missing))
    found = conflicts(a, items)
    for path, why in found:
        say("%s %s" % (path, why))
    packages = sorted({why.split()[-1] for _, why in found if "Debian package" in why})
    if found and not a.force:
        sys.exit("mod_python: not installed: the files above are not mod_python 4's; "
                 "nothing was changed.\n  %sinstall elsewhere (see doc/install.md),\n"
                 "  or replace them: make install FORCE=1" % (
                     "remove %s first (apt-get remove %s),\n  " % (
                         " ".join(packages), " ".join(packages)) if packages else ""))
    if found:
        say("FORCE=1: replacing them%s" % (
            "; %s's next upgrade or removal will overwrite or delete ours"
            % " ".join(packages) if packages else ""))
    for it in items:
        path = a.destdir + it.dest
        write(path, content(a, it), it.mode)
        if it.kind == "py":
            # the name tracebacks show: where it runs, without DESTDIR
            py_compile.compile(path, cfile=pyc_files(path)[0], dfile=it.dest, doraise=True)
        say("installed %s" % path)
    if not a.destdir:
        after_install(a)


def after_install(a):
    """What the user should know once the files are in place."""
    path = default_sys_path(a.python)
    if a.sitedir not in path:
        say("note: %s is not on %s's sys.path: httpd needs PYTHONPATH=%s "
            "(the mod_python command sets it)" % (a.sitedir, a.python, a.sitedir))
    for d in path:
        other = os.path.join(d, "mod_python")
        if d and d != a.sitedir and os.path.isdir(other):
            owner = dpkg_owner(other)
            say("note: another mod_python package is in %s%s: %s" % (
                other, " (Debian package %s)" % owner if owner else "",
                shadowing(path, d, a.sitedir)))
    if a.modsdir:
        enabled = os.path.join(os.path.dirname(a.modsdir), "mods-enabled", "python.load")
        say("enabled already: systemctl restart apache2" if os.path.lexists(enabled)
            else "enable it: a2enmod python && systemctl restart apache2")


def shadowing(path, other, ours_dir):
    """Which of two mod_python packages on sys.path `path` Python imports."""
    if ours_dir not in path:
        return "without PYTHONPATH, Python imports that one, not ours"
    if path.index(ours_dir) < path.index(other):
        return ("ours comes first on sys.path and hides it; a 3.5 mod_python.so "
                "still loaded would import ours and fail: remove that package")
    return "it comes first on sys.path and hides ours: remove it"

def uninstall(a):
    items = plan(a)
    if a.modsdir:
        disable(a)
    package_dirs = set()
    # All judged before any goes: the package's files by its version.py.
    verdicts = [foreign(it.kind, a.destdir + it.dest) for it in items]
    for it, why in zip(items, verdicts):
        path = a.destdir + it.dest
        if why:
            say("kept %s: it %s" % (path, why))
            continue
        removed = [p for p in [path] + (pyc_files(path) if it.kind == "py" else [])
                   if os.path.lexists(p)]
        for p in removed:
            os.unlink(p)
        if removed:
            say("removed %s" % path)
        if it.kind == "py":
            package_dirs.add(os.path.dirname(path))
    # The package's directories go too if that left them empty.
    for d in package_dirs:
        for sub in (os.path.join(d, "__pycache__"), d):
            if os.path.isdir(sub) and not os.listdir(sub):
                os.rmdir(sub)


def disable(a):
    """If a2enmod enabled our python.load, undo that first: a link left to
    a removed file would stop apache2 from starting.  With DESTDIR (or no
    a2dismod, or another directory than the system's /etc/apache2, which
    is the only one a2dismod's state in /var/lib/apache2 is about) the
    links in mods-enabled are removed here; otherwise by a2dismod."""
    available = a.destdir + a.modsdir
    enabled = os.path.join(os.path.dirname(available), "mods-enabled")
    links = []
    for name in ("python.load", "python.conf"):
        link, ours_file = os.path.join(enabled, name), os.path.join(available, name)
        if os.path.islink(link) and os.path.realpath(link) == os.path.realpath(ours_file) \
                and not foreign("text", ours_file):
            links.append(link)
    if not links:
        return
    if not a.destdir and os.path.dirname(available) == "/etc/apache2" \
            and shutil.which("a2dismod"):
        subprocess.run(["a2dismod", "-q", "python"], check=True)
        say("disabled: a2dismod python")
    else:
        for link in links:
            os.unlink(link)
            say("disabled: removed %s" % link)
    say("restart apache2 (systemctl restart apache2): it still runs the module")


def say(text):
    print("mod_python: " + text, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("action", choices=["install", "uninstall"])
    p.add_argument("--moddir", required=True, help="httpd's module directory")
    p.add_argument("--sitedir", required=True, help="site-packages for the package")
    p.add_argument("--bindir", required=True, help="where the mod_python command goes")
    p.add_argument("--modsdir", default="", help="mods-available (Debian), or none")
    p.add_argument("--destdir", default="", help="staging root prefixed to every path")
    p.add_argument("--force", action="store_true", help="replace files not ours")
    a = p.parse_args()
    a.python = sys.executable
    a.destdir = a.destdir.rstrip("/")
    for name in ("moddir", "sitedir", "bindir", "modsdir"):
        value = getattr(a, name)
        if value and not os.path.isabs(value):
            p.error("--%s must be absolute: %s" % (name, value))
    try:
        install(a) if a.action == "install" else uninstall(a)
    except PermissionError as e:
        sys.exit("mod_python: %s: %s\n  run it as root (sudo make %s), or stage it "
                 "with DESTDIR=..." % (e.filename, e.strerror, a.action))


if __name__ == "__main__":
    main()
