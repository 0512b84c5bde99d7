"""Check that src/'s layers call one way only: from the object files of a
build, every symbol a file uses from another layer must belong to a layer
below it.  Prints the calls between layers; exits 1 on one going up.
Usage: python3 scripts/layers.py (after scripts/build.sh)."""
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
    sys.exit(bad)


if __name__ == "__main__":
    main()
