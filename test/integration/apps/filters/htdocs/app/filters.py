"""Python filters written as mod_python 3.5 applications write them: state
kept on filter.req across calls, read() in a loop until b"" (this call's
data is used up) or None (the end), then close()."""
import threading
import zlib

from mod_python import apache

# Filter objects kept past their call (test_kept_filter_object_raises).
KEPT = []


def gzip_filter(filter):
    """Streaming gzip: one compressobj per request, kept on req."""
    req = filter.req
    st = getattr(req, "gz", None)
    if st is None:
        st = req.gz = {"z": zlib.compressobj(int(req.get_options().get("level", "6")),
                                             zlib.DEFLATED, 31),
                       "calls": 0, "total": 0, "call_max": 0, "read_max": 0}
        req.headers_out["Content-Encoding"] = "gzip"
    st["calls"] += 1
    this_call = 0
    s = filter.read()
    while s:
        this_call += len(s)
        st["read_max"] = max(st["read_max"], len(s))
        filter.write(st["z"].compress(s))
        s = filter.read()
    st["total"] += this_call
    st["call_max"] = max(st["call_max"], this_call)
    if s is None:
        filter.write(st["z"].flush())
        req.log_error("gzip filter: calls=%(calls)d total=%(total)d "
                      "call_max=%(call_max)d read_max=%(read_max)d"
                      % st, apache.APLOG_NOTICE)
        filter.close()


def upper_out(filter):
    """3.5's documentation example."""
    s = filter.read()
    while s:
        filter.write(s.upper())
        s = filter.read()
    if s is None:
        filter.close()


def upper_in(filter):
    s = filter.read()
    while s:
        filter.write(s.upper())
        s = filter.read()
    if s is None:
        filter.close()


def count_in(filter):
    """Upper-cases and counts the calls and the largest piece per call."""
    req = filter.req
    req.in_calls = getattr(req, "in_calls", 0) + 1
    req.in_is_input = filter.is_input
    got = 0
    s = filter.read()
    while s:
        got += len(s)
        filter.write(s.upper())
        s = filter.read()
    req.in_max = max(getattr(req, "in_max", 0), got)
    if s is None:
        filter.close()


def number_lines(filter):
    """readline() on an output filter: a line cut between two brigades
    comes in two pieces; the partial one waits on req."""
    req = filter.req
    part = getattr(req, "partial", b"")
    while True:
        line = filter.readline()
        if line is None:
            if part:
                req.nlines = getattr(req, "nlines", 0) + 1
                filter.write(b"%d: %s" % (req.nlines, part))
            filter.close()
            return
        if not line:
            break
        part += line
        if part.endswith(b"\n"):
            req.nlines = getattr(req, "nlines", 0) + 1
            filter.write(b"%d: %s" % (req.nlines, part))
            part = b""
    req.partial = part


def strip_comments(filter):
    """readline() on an input filter: drops lines starting with '#'."""
    line = filter.readline()
    while line:
        if not line.startswith(b"#"):
            filter.write(line)
        line = filter.readline()
    if line is None:
        filter.close()


def prefix_pass(filter):
    """write() once, then pass_on() every call."""
    if not getattr(filter.req, "prefixed", False):
        filter.req.prefixed = True
        filter.write(b"PREFIX:")
    filter.pass_on()


def pass_in(filter):
    filter.req.passed_in = getattr(filter.req, "passed_in", 0) + 1
    filter.pass_on()


def disable_after_first(filter):
    """Upper-cases its first call's data, then lets the rest through."""
    filter.req.disable_calls = getattr(filter.req, "disable_calls", 0) + 1
    s = filter.read()
    while s:
        filter.write(s.upper())
        s = filter.read()
    filter.disable()
    if s is None:
        filter.close()


def head10(filter):
    """The first 10 bytes, then the end: close() truncates the response."""
    req = filter.req
    left = getattr(req, "left", 10)
    s = filter.read(left)
    while s:
        filter.write(s)
        left -= len(s)
        if not left:
            break
        s = filter.read(left)
    req.left = left
    if not left or s is None:
        filter.close()
        req.log_error("head10 closed=%r" % filter.closed, apache.APLOG_NOTICE)


def raises(filter):
    raise ValueError("filter boom")


def raises_later(filter):
    """Upper-cases the first call, raises in the second."""
    req = filter.req
    req.raise_calls = getattr(req, "raise_calls", 0) + 1
    if req.raise_calls > 1:
        raise ValueError("boom in call %d" % req.raise_calls)
    s = filter.read()
    while s:
        filter.write(s.upper())
        s = filter.read()
    if s is None:
        filter.close()


def raises_in(filter):
    raise KeyError("input boom")


def keep(filter):
    KEPT.append(filter)
    filter.pass_on()


def threaded(filter):
    """Another thread may not use the filter object, even during its call."""
    out = []

    def run():
        try:
            filter.write(b"from a thread")
            out.append("wrote")
        except RuntimeError as e:
            out.append("RuntimeError: %s" % e)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    filter.req.headers_out["X-Thread"] = out[0]
    upper_out(filter)


def attrs(filter):
    """Its attributes, at the first call, into the response headers."""
    req = filter.req
    if not getattr(req, "attrs_done", False):
        req.attrs_done = True
        filter.softspace = 1
        filter.req = req            # writable, as in 3.5
        try:
            del filter.req
        except AttributeError:
            pass
        req.headers_out["X-Attrs"] = repr({
            "name": filter.name, "handler": filter.handler, "dir": filter.dir,
            "is_input": filter.is_input, "closed": filter.closed,
            "softspace": filter.softspace, "same_req": req.marker,
            "type": type(filter).__name__})
    filter.pass_on()


def server_return(filter):
    """SERVER_RETURN is not an error for a filter (3.5): the data it did not
    read goes on."""
    raise apache.SERVER_RETURN(apache.OK)


def tag(filter, name):
    if not getattr(filter.req, "tagged", False):
        filter.req.tagged = True
        filter.write(name)
    filter.pass_on()


def tag_a(filter):
    tag(filter, b"A:")


def tag_b(filter):
    tag(filter, b"B:")


def swallow(filter):
    """Reads everything, writes nothing until the end."""
    s = filter.read()
    while s:
        s = filter.read()
    if s is None:
        filter.write(b"swallowed")
        filter.close()


class Wrapper:
    """module::Class.method: Class(filter).method(filter), as 3.5."""

    def __init__(self, filter):
        self.tag = b"wrapped:"

    def run(self, filter):
        if not getattr(filter.req, "wrapped", False):
            filter.req.wrapped = True
            filter.write(self.tag)
        filter.pass_on()
