"""WSGI applications run by PythonHandler mod_python.wsgi: dispatch() picks
one by the first segment of PATH_INFO (/w/<name>/...) and returns what it
returns, untouched."""
import io
import json
import os
import sys
import threading
import time


def application(environ, start_response):
    """The default callable name."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"default callable"]


def note(environ, text):
    """A line in the error log, through wsgi.errors."""
    environ["wsgi.errors"].write("wsgi apps: %s\n" % text)


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello ", b"World"]


def environ_app(environ, start_response):
    d = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int))}
    d["errors_type"] = type(environ["wsgi.errors"]).__name__
    d["errors_is_stderr"] = environ["wsgi.errors"] is sys.stderr
    d["file_wrapper"] = getattr(environ.get("wsgi.file_wrapper"), "__name__", None)
    d["input_type"] = type(environ["wsgi.input"]).__name__
    d["thread"] = threading.get_ident()
    body = json.dumps(d).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def write_app(environ, start_response):
    """The write() callable of start_response, then an iterable."""
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    write(b"directly; ")
    return iter([b"then ", b"iterated"])


def body_app(environ, start_response):
    """Reads wsgi.input (the request object) by CONTENT_LENGTH."""
    n = int(environ.get("CONTENT_LENGTH") or 0)
    data = environ["wsgi.input"].read(n)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d bytes, %d lines" % (len(data), data.count(b"\n"))]


class Closing:
    """An iterable with close(), as frameworks return; `fail` raises after
    the first block."""

    def __init__(self, environ, name, fail=False):
        self.environ, self.name, self.fail = environ, name, fail

    def __iter__(self):
        yield b"block one;"
        if self.fail:
            raise KeyError("failed while iterating")
        yield b"block two"

    def close(self):
        note(self.environ, "%s closed" % self.name)


def closing(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing(environ, "closing")


def iter_fails(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing(environ, "iter_fails", fail=True)


def raises(environ, start_response):
    raise LookupError("the application failed before start_response")


def stream(environ, start_response):
    """A generator: the second block waits until the client has read the
    first one (it makes the gate file): buffering would never end."""
    gate = environ["QUERY_STRING"]
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        try:
            yield b"first;"
            deadline = time.time() + 10
            while not os.path.exists(gate) and time.time() < deadline:
                time.sleep(0.01)
            yield b"second: gate %s" % (b"seen" if os.path.exists(gate) else b"timed out")
        finally:
            note(environ, "stream generator closed")
    return gen()


def endless(environ, start_response):
    """Blocks until the client goes away (or 30 s)."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def gen():
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                yield b"x" * 65536
                time.sleep(0.005)
            note(environ, "endless: never stopped")
        finally:
            note(environ, "endless generator closed")
    return gen()


def sized(environ, start_response):
    """A generator with a Content-Length: every block is sent."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return (b for b in [b"abcd", b"", b"efgh", b"ijkl"])


def errors(environ, start_response):
    e = environ["wsgi.errors"]
    e.write("wsgi apps: one ")
    e.write("line\nwsgi apps: second line\nwsgi apps: unfinished")
    e.writelines(["", " but flushed at the end"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged"]


def errors_bytes(environ, start_response):
    try:
        environ["wsgi.errors"].write(b"bytes")
    except TypeError as ex:
        msg = "TypeError: %s" % ex
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [msg.encode()]


class CountingFile(io.FileIO):
    """A real file that counts its reads and logs them when closed."""

    def __init__(self, path, environ):
        super().__init__(path, "rb")
        self.environ = environ
        self.reads = 0

    def read(self, *args):
        self.reads += 1
        return super().read(*args)

    def close(self):
        if not self.closed:
            note(self.environ, "file closed after %d reads" % self.reads)
        super().close()


def data_path():
    return os.path.join(os.path.dirname(__file__), "data.bin")


def file_real(environ, start_response):
    f = CountingFile(data_path(), environ)
    f.seek(int(environ["QUERY_STRING"] or 0))
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 4096)


def file_limited(environ, start_response):
    """A declared Content-Length shorter than the file: that much is sent."""
    f = CountingFile(data_path(), environ)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", "1000")])
    return environ["wsgi.file_wrapper"](f)


def file_bytesio(environ, start_response):
    f = io.BytesIO(b"0123456789" * 1000)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 3000)


def slow(environ, start_response):
    """Holds a thread for a while: requests run side by side."""
    time.sleep(float(environ["QUERY_STRING"] or 0.2))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % threading.get_ident()]


APPS = {name: obj for name, obj in list(globals().items())
        if callable(obj) and not isinstance(obj, type) and name not in
        ("dispatch", "note", "data_path")}


def dispatch(environ, start_response):
    name = environ["PATH_INFO"].strip("/").split("/")[0] or "hello"
    app = APPS.get(name) or APPS.get(name + "_app")
    if app is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no app " + name.encode()]
    return app(environ, start_response)
