"""A large multipart upload through util.FieldStorage: mod_python 4 side by
side with mod_python 3.5 (Debian's module, its own util.py), one run.

Each server is its own httpd on 127.0.0.1 (event MPM, one child of 16
threads), started from the build tree as in bench/run.py; 3.5 runs with
Debian's /usr/lib/apache2/modules/mod_python.so and its Python package.
The same handler runs in both: it parses the body with
util.FieldStorage(req) and reports, from inside the child, the seconds
that took (reading the body included) and the child's peak RSS (VmHWM)
and RSS before and after; the client checks the SHA-256 of the file the
server got.  A small upload first warms each server (imports, first
temporary file), so the figures are the upload's own.

Usage: /usr/bin/python3 bench/upload.py [--size MB]
"""
import argparse
import hashlib
import http.client
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))
from harness import MODULE, Httpd, one_child  # noqa: E402

MP35_MODULE = "/usr/lib/apache2/modules/mod_python.so"
MIB = 1 << 20
BOUNDARY = b"----mpBenchBoundaryq8Jx2vKf"

APP = '''
import hashlib, json, time
from mod_python import apache, util

def memory():
    got = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                got[k] = int(v.split()[0]) * 1024
    return got["VmHWM"], got["VmRSS"]

def handler(req):
    hwm0, rss0 = memory()
    t = time.perf_counter()
    fs = util.FieldStorage(req)
    took = time.perf_counter() - t
    hwm1, rss1 = memory()
    files = []
    for f in fs.list:
        if f.filename:
            f.file.seek(0)
            h, n = hashlib.sha256(), 0
            while True:
                block = f.file.read(1 << 16)
                if not block:
                    break
                h.update(block)
                n += len(block)
            files.append([n, h.hexdigest()])
    req.content_type = "application/json"
    req.write(json.dumps({"seconds": took, "hwm": [hwm0, hwm1], "rss": [rss0, rss1],
                          "files": files}))
    return apache.OK
'''

CONF = """
LimitRequestBody 0
Timeout 600
<Directory {app}>
    SetHandler mod_python
    PythonHandler upload
</Directory>
"""


def server(name, module, env=None):
    h = Httpd("event", prefix="mp-bench-%s-" % name)
    h.write("htdocs/app/upload.py", APP)
    if env is not None:
        h.extra_env.update(env)
    h.config(CONF.format(app=h.path("htdocs", "app")), loglevel="warn",
             mpm_settings=one_child("event"), python_module=module)
    h.name = name
    return h


def upload(h, size):
    """POST a multipart body with one file of `size` random bytes, sent
    in 1 MiB writes: (the handler's report, wall seconds, sha256 sent)."""
    head = (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"file\"; "
            b"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
    tail = b"\r\n--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" \
        b"1\r\n--" + BOUNDARY + b"--\r\n"
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", h.port), timeout=3600)
    try:
        s.sendall(b"POST /app/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                  b"Content-Type: multipart/form-data; boundary=" + BOUNDARY + b"\r\n"
                  b"Content-Length: %d\r\n\r\n" % (len(head) + size + len(tail)))
        s.sendall(head)
        left, i = size, 0
        while left:
            piece = block[:min(left, MIB)]
            piece = i.to_bytes(4, "big") + piece[4:] if len(piece) > 4 else piece
            digest.update(piece)
            s.sendall(piece)
            left -= len(piece)
            i += 1
        s.sendall(tail)
        r = http.client.HTTPResponse(s)
        r.begin()
        body = r.read()
    finally:
        s.close()
    wall = time.perf_counter() - t
    if r.status != 200:
        raise RuntimeError("%s answered %d:\n%s\n%s" % (h.name, r.status, body[:2000],
                                                       h.log()[-3000:]))
    return json.loads(body), wall, digest.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=100, help="file size, MB (MiB)")
    args = ap.parse_args()
    size = args.size * MIB
    servers = [("mod_python 4", server("mp4", MODULE)),
               ("mod_python 3.5", server("mp35", MP35_MODULE, env={"PYTHONPATH": ""}))]
    rows = []
    try:
        for label, h in servers:
            h.start()
            upload(h, 100000)   # warm up
            rep, wall, digest = upload(h, size)
            ok = rep["files"] == [[size, digest]]
            rows.append((label, rep, wall, ok))
    finally:
        for _, h in servers:
            h.cleanup()
    print("%d MiB multipart upload through util.FieldStorage, one run, event MPM, one child"
          % args.size)
    print()
    print("| server | FieldStorage(req), in the handler | wall, client side | "
          "child peak RSS (VmHWM) before -> after | growth | RSS after | file intact |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for label, rep, wall, ok in rows:
        (h0, h1), (_, r1) = rep["hwm"], rep["rss"]
        print("| %s | %.2f s (%.0f MB/s) | %.2f s | %.1f MB -> %.1f MB | %+.1f MB | %.1f MB | %s |"
              % (label, rep["seconds"], args.size * MIB / 1e6 / rep["seconds"], wall,
                 h0 / 1e6, h1 / 1e6, (h1 - h0) / 1e6, r1 / 1e6, "yes" if ok else "NO"))


if __name__ == "__main__":
    main()
