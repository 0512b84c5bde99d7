import json, os, sys, time
from mod_python import apache
from bodyresult import encode


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def peak():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

def reply(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj))
    return apache.OK

def calls(req):
    """args: calls to make in order, e.g. readline:5,readlines,read"""
    out = []
    for call in req.args.split(","):
        name, _, arg = call.partition(":")
        fn = getattr(req, name)
        out.append(encode(fn(int(arg)) if arg else fn()))
    return reply(req, out)

def timed(req):
    t = time.perf_counter()
    line = req.readline()
    took = time.perf_counter() - t
    return reply(req, [len(line), line.count(b"z"), took, os.getpid()])

def bounded(req):
    """readline(n) until the end: piece sizes and the RSS it cost."""
    n = int(req.args)
    before = top = rss()
    total = longest = calls = 0
    while True:
        piece = req.readline(n)
        if not piece:
            break
        total += len(piece)
        longest = max(longest, len(piece))
        calls += 1
        if calls % 16 == 0:
            top = max(top, rss())
    return reply(req, [total, longest, calls, max(top, rss()) - before])

def two_readers(req):
    """A thread the handler started may not read the body (it is not the
    thread serving the request: RuntimeError); the handler then reads it
    whole."""
    import threading
    out = {}
    def other():
        try:
            out["thread"] = len(req.read())
        except RuntimeError as e:
            out["thread"] = str(e)
    t = threading.Thread(target=other)
    t.start()
    t.join()
    out["handler"] = len(req.read())
    return reply(req, out)

def a(n):
    if n == 0:
        raise RuntimeError("deep bottom <reached>")
    return b(n - 1)  # frames alternate between a and b: none is collapsed ..........

def b(n):
    return a(n - 1)  # as "[Previous line repeated]"; this comment pads each line ..

def deep(req):
    depth = int(req.args)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), depth + 200))
    return a(depth)

def huge_message(req):
    raise ValueError("\u00e9<" * 200000)

def shallow(req):
    raise ValueError("shallow & short")

def memory(req):
    return reply(req, [rss(), peak(), os.getpid()])

def ok(req):
    return reply(req, ["ok", os.getpid()])
