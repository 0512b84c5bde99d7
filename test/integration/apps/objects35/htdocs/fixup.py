"""/static/alias.txt is served as real.txt, the way mod_python 3.5's
publisher re-points a request: req.filename, then req.finfo from
apache.stat() (httpd's handler answers 404 for a file whose finfo says
APR_NOFILE).  ?nofinfo leaves req.finfo as it was."""
import os

from mod_python import apache


def fixuphandler(req):
    if os.path.basename(req.filename) != "alias.txt":
        return apache.DECLINED
    before = req.finfo.filetype
    req.filename = os.path.join(os.path.dirname(req.filename), "real.txt")
    if req.args != "nofinfo":
        req.finfo = apache.stat(req.filename, apache.APR_FINFO_MIN)
    req.err_headers_out["X-Before"] = str(before)
    return apache.OK
