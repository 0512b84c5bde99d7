"""A line-echo protocol server, as a mod_python 3.5 connection handler:
every line comes back as it was sent.  Lines starting with "!" are
commands the tests use to reach the rest of the connection object."""
import json
import os
import threading
import time

from mod_python import apache


def info(conn):
    conn.notes["seen"] = "yes"
    return {
        "type": type(conn).__name__,
        "client_ip": conn.client_ip,
        "local_port": conn.local_addr[1],
        "remote_port": conn.client_addr[1],
        "server": conn.base_server.server_hostname,
        "interpreter": apache.interpreter,
        "handler": conn.hlist.handler,
        "directory": conn.hlist.directory,
        "is_location": conn.hlist.is_location,
        "silent": conn.hlist.silent,
        "notes": dict(conn.notes),
        "aborted": bool(conn.aborted),
        "keepalives": conn.keepalives,
        "pid": os.getpid(),
        "mpm": apache.mpm_name(),
    }


def from_other_thread(conn):
    out = []

    def use():
        try:
            conn.write(b"never\n")
            out.append("no error")
        except RuntimeError as e:
            out.append(str(e))
    t = threading.Thread(target=use)
    t.start()
    t.join()
    return out[0]


def after_return(conn, handler_done):
    """Use conn once its handler has returned: log what happens."""
    def use():
        handler_done.wait(30)
        time.sleep(0.3)
        for what, call in (("read", lambda: conn.read(1)),
                           ("write", lambda: conn.write(b"late\n")),
                           ("notes", lambda: conn.notes.get("x"))):
            try:
                call()
                apache.log_error("echo: kept %s: no error" % what, apache.APLOG_NOTICE)
            except RuntimeError as e:
                apache.log_error("echo: kept %s: %s" % (what, e), apache.APLOG_NOTICE)
    threading.Thread(target=use).start()


def command(conn, cmd, handler_done):
    """Run one "!" command; a result to return from the handler, or None."""
    word, _, arg = cmd.partition(b" ")
    if word == b"!info":
        conn.write(json.dumps(info(conn)).encode() + b"\n")
    elif word == b"!read":                # read(n), read() or read(-1)
        data = conn.read(int(arg)) if arg else conn.read()
        conn.write(b"%d:" % len(data) + data + b"\n")
    elif word == b"!readline":            # readline(n)
        data = conn.readline(int(arg))
        conn.write(b"%d:" % len(data) + data + b"\n")
    elif word == b"!str":                 # str goes out as UTF-8
        conn.write(arg.decode("utf-8") + "\n")
    elif word == b"!badwrite":            # neither bytes nor str
        try:
            conn.write(12)
        except TypeError as e:
            conn.write(str(e) + "\n")
    elif word == b"!thread":
        conn.write(from_other_thread(conn).encode() + b"\n")
    elif word == b"!later":
        after_return(conn, handler_done)
        conn.write(b"ok\n")
        return apache.OK
    elif word == b"!flood":               # the client has gone: writes fail
        for i in range(10000):
            try:
                conn.write(b"x" * 65536)
            except OSError as e:
                conn.log_error("echo: write %d failed: %s" % (i, e), apache.APLOG_NOTICE)
                return apache.OK
        conn.log_error("echo: every write went out", apache.APLOG_NOTICE)
        return apache.OK
    elif word == b"!raise":
        raise ValueError("raised on purpose")
    elif word == b"!return":
        return {b"500": apache.HTTP_INTERNAL_SERVER_ERROR, b"str": "nonsense",
                b"done": apache.DONE}[arg]
    elif word == b"!wait":                # the client sends nothing more
        try:
            conn.read()
        except TimeoutError as e:
            conn.log_error("echo: timed out: %s" % e, apache.APLOG_NOTICE)
            return apache.OK
    else:
        conn.write(b"unknown command\n")
    return None


def connectionhandler(conn):
    handler_done = threading.Event()
    lines = 0
    try:
        while True:
            line = conn.readline()
            if not line.endswith(b"\n"):
                conn.log_error("echo: end after %d lines, %d bytes left"
                               % (lines, len(line)), apache.APLOG_NOTICE)
                return apache.OK
            lines += 1
            if line.startswith(b"!"):
                rc = command(conn, line.rstrip(b"\r\n"), handler_done)
                if rc is not None:
                    return rc
            else:
                conn.write(line)
    finally:
        handler_done.set()
