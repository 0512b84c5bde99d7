"""The CPythons with a shared libpython the module is tested against, and a
build of the module against one of them (scripts/matrix.py and
test/integration/test_python_versions.py use both).

  system  /usr/bin/python3 (3.11 on Debian 12): the default build;
  3.12, 3.13  pyenv's builds (`pyenv root`/versions/3.12.*, 3.13.*).

pyenv keeps its builds in root's home, which httpd's user cannot read: each
is copied once to PREFIX, readable by all, and the module is built against
the copy.

    /usr/bin/python3 scripts/pythons.py              # what is found
    /usr/bin/python3 scripts/pythons.py 3.13 TREE    # build in TREE
"""
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "/opt/mod_python-test-pythons"
WANTED = ("3.12", "3.13")
SYSTEM = "/usr/bin/python3"
WARN = ("-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers "
        "-Werror")


def pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True,
                              text=True).stdout.strip()
    return root or os.path.expanduser("~/.pyenv")


def pyenv_builds():
    """{minor: pyenv's directory} of the WANTED versions with a shared
    libpython (the newest patch release of each)."""
    found = {}
    for d in sorted(glob.glob(os.path.join(pyenv_root(), "versions", "3.*")),
                    key=lambda d: [int(x) if x.isdigit() else -1
                                   for x in os.path.basename(d).split(".")]):
        minor = ".".join(os.path.basename(d).split(".")[:2])
        if minor in WANTED and glob.glob(os.path.join(d, "lib", "libpython%s.so*" % minor)):
            found[minor] = d
    return found


def readable_copy(src):
    """`src` copied under PREFIX, readable by everyone (once): its prefix."""
    dst = os.path.join(PREFIX, os.path.basename(src))
    if not os.path.exists(os.path.join(dst, ".complete")):
        shutil.rmtree(dst, ignore_errors=True)
        os.makedirs(PREFIX, exist_ok=True)
        os.chmod(PREFIX, 0o755)
        subprocess.run(["cp", "-a", src, dst], check=True)
        subprocess.run(["chmod", "-R", "a+rX", dst], check=True)
        open(os.path.join(dst, ".complete"), "w").close()
    return dst


def make_args(minor=None, prefix=None):
    """make's variables for a build against `prefix` (None: the system's),
    warnings as errors."""
    args = ["WARN=" + WARN]
    if prefix:
        # python3-config of a copied build names its original lib directory
        lib = os.path.join(prefix, "lib")
        args += ["PY_LIBDIR=" + lib, "PY_LIBS=-L%s -lpython%s -ldl -lm" % (lib, minor)]
    return args


def build(tree, minor=None, prefix=None):
    """The repository's files (git ls-files) copied to `tree`, configured
    for python3.`minor` under `prefix` (None: the system's) and built,
    warnings as errors.  Returns the path of mod_python.so; raises
    RuntimeError with the output when the build fails or warns."""
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    os.chmod(tree, 0o755)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.split(b"\0")
    subprocess.run(["cp", "--parents", "-t", tree] + [f.decode() for f in files if f],
                   cwd=ROOT, check=True)
    python = "%s/bin/python%s" % (prefix, minor) if prefix else SYSTEM
    out = ""
    for cmd in (["autoconf"], ["./configure", "-q", "--with-python=" + python],
                ["make"] + make_args(minor, prefix)):
        r = subprocess.run(cmd, cwd=tree, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        out += r.stdout
        if r.returncode != 0:
            raise RuntimeError("%s failed in %s:\n%s" % (" ".join(cmd), tree, out[-6000:]))
    if "warning:" in out:
        raise RuntimeError("warnings building in %s:\n%s" % (tree, out[-6000:]))
    return os.path.join(tree, "src", ".libs", "mod_python.so")


if __name__ == "__main__":
    builds = pyenv_builds()
    if len(sys.argv) == 3:
        minor, tree = sys.argv[1:]
        prefix = readable_copy(builds[minor]) if minor in builds else None
        if minor != "system" and not prefix:
            sys.exit("no pyenv build of %s with a shared libpython" % minor)
        print(build(os.path.abspath(tree), minor, prefix))
    else:
        print("system %s" % SYSTEM)
        for minor, d in sorted(builds.items()):
            print("%s %s" % (minor, d))
