"""Check src/'s structure (the Structure issue's rules):
  1. the layers call one way only: from the object files of a build, every
     symbol a file uses from another layer belongs to a layer below it;
  2. no C file over MAX_FILE lines, no function over MAX_FUNCTION lines.
Prints the calls between layers; exits 1 on a call going up or a size
over the limits.  Usage: python3 scripts/structure.py (after a build)."""
import glob
import os
import subprocess
import sys

# Bottom first: a layer may use those before it.  The importer and config
# need only base; interp needs base; objects all four; httpd everything.
ORDER = ["base", "importer", "config", "interp", "objects", "httpd"]
ALLOWED = {
    "base": set(),
    "importer": {"base"},
    "config": {"base"},
    "interp": {"base"},
    "objects": {"base", "importer", "config", "interp"},
    "httpd": {"base", "importer", "config", "interp", "objects"},
}
# The module record is defined with httpd's hooks and named below only as
# httpd's index into configuration vectors and log module ids (data).
DATA_OK = {"python_module"}
MAX_FILE = 1000
MAX_FUNCTION = 60


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defs, uses = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRC":
            defs.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            uses.add(parts[1])
    return defs, uses


def functions(path):
    """(name, lines) of each function defined at file level: a body opens
    with "{" in column 0 and closes with "}" in column 0 (the style here)."""
    lines = open(path).read().split("\n")
    start = None
    for i, line in enumerate(lines):
        if line.startswith("{"):
            start = i
        elif line.startswith("}") and start is not None:
            head = start - 1
            while head > 0 and "(" not in lines[head]:
                head -= 1
            yield lines[head].split("(")[0].split()[-1].lstrip("*"), i - start + 1
            start = None


def sizes(root):
    bad = 0
    for path in sorted(glob.glob(os.path.join(root, "*", "*.[ch]"))):
        n = sum(1 for _ in open(path))
        rel = os.path.relpath(path, root)
        if n > MAX_FILE:
            print("TOO LONG: %s has %d lines (max %d)" % (rel, n, MAX_FILE))
            bad = 1
        for name, length in functions(path):
            if length > MAX_FUNCTION:
                print("TOO LONG: %s: %s() has %d lines (max %d)"
                      % (rel, name, length, MAX_FUNCTION))
                bad = 1
    return bad


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    owner, uses = {}, {}
    for layer in ORDER:
        for obj in glob.glob(os.path.join(root, layer, ".libs", "*.o")):
            d, u = symbols(obj)
            name = "%s/%s" % (layer, os.path.basename(obj)[:-2])
            for sym in d:
                owner[sym] = layer
            uses[name] = u
    if not uses:
        sys.exit("no object files under src/*/.libs: build first")
    bad = 0
    edges = {}
    for name, used in sorted(uses.items()):
        layer = name.split("/")[0]
        for sym in sorted(used):
            to = owner.get(sym)
            if not to or to == layer or sym in DATA_OK:
                continue
            edges.setdefault((layer, to), set()).add(sym)
            if to not in ALLOWED[layer]:
                print("UP: %s uses %s from %s" % (name, sym, to))
                bad = 1
    for (a, b), syms in sorted(edges.items(), key=lambda e: (ORDER.index(e[0][0]), ORDER.index(e[0][1]))):
        print("%-8s -> %-8s %d symbols" % (a, b, len(syms)))
    sys.exit(bad | sizes(root))


if __name__ == "__main__":
    main()
