"""PythonImport at child start: a cleanup for every child, requests or not."""
import os

from mod_python import apache

OUT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "logs", "exit.txt")


def at_exit(data):
    with open(OUT, "a") as f:
        f.write("import %d %s %r\n" % (os.getpid(), apache.interpreter, data))


apache.register_cleanup(at_exit, "started")
