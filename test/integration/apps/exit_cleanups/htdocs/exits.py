"""Child-exit cleanups as mod_python 3.5 applications register them:
req.server.register_cleanup(req, f, data), apache.register_cleanup(f,
data), _apache.register_cleanup(interpreter, server, f, data).  Each
process registers once, on its first request; each cleanup appends a line
"<what> <pid> <interpreter> <data>" to logs/exit.txt when the process
exits.  /app/x or /named/x (another interpreter); /app/x?sleep=N sleeps in
Python first."""
import json
import os
import time

import _apache
from mod_python import apache

OUT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "logs", "exit.txt")
registered = False


def write(what, data):
    with open(OUT, "a") as f:
        f.write("%s %d %s %r\n" % (what, os.getpid(), apache.interpreter, data))


def fails(data):
    raise ZeroDivisionError("exit cleanup fails on purpose")


def handler(req):
    global registered
    if not registered:
        registered = True
        pid = os.getpid()
        # run newest first: "last" runs before "fails", "first" after it
        req.server.register_cleanup(req, lambda d: write("first", d), "server-%d" % pid)
        apache.register_cleanup(fails)
        apache.register_cleanup(lambda d: write("apache", d))
        _apache.register_cleanup(apache.interpreter, apache.main_server,
                                 lambda d: write("last", d), "raw-%d" % pid)
    if req.args and req.args.startswith("sleep="):
        time.sleep(float(req.args[6:]))
    req.content_type = "application/json"
    req.write(json.dumps({"pid": os.getpid(), "interpreter": apache.interpreter,
                          "errors": errors(req)}))
    return apache.OK


def errors(req):
    """What malformed registrations raise."""
    res = {}
    calls = {
        "not_callable": lambda: req.server.register_cleanup(req, "nope"),
        "not_request": lambda: req.server.register_cleanup(None, write),
        "not_server": lambda: _apache.register_cleanup(apache.interpreter, None, write),
        "other_interp": lambda: _apache.register_cleanup("elsewhere", req.server, write),
    }
    for name, call in calls.items():
        try:
            call()
            res[name] = None
        except Exception as e:
            res[name] = type(e).__name__
    return res
