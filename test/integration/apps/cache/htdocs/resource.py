"""A resource HTTPCache fetches: ETag from data/version.txt, fresh for
one second; counts the requests that reach it and the 304s."""
import json
import os

from mod_python import apache

HITS = {"full": 0, "304": 0}


def handler(req):
    if req.args == "stats":
        req.content_type = "application/json"
        req.write(json.dumps(HITS))
        return apache.OK
    with open(os.path.join(req.get_options()["data"], "version.txt")) as f:
        version = f.read().strip()
    etag = '"v%s"' % version
    req.headers_out["ETag"] = etag
    req.headers_out["Cache-Control"] = "max-age=1"
    if req.headers_in.get("If-None-Match") == etag:
        HITS["304"] += 1
        return apache.HTTP_NOT_MODIFIED
    HITS["full"] += 1
    req.content_type = "text/plain"
    req.write("version " + version)
    return apache.OK
