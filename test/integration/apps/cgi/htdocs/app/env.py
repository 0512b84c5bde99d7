"""After CGI scripts ran in this interpreter: the process environment is
untouched and os.environ is the real one again."""
import os

from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("%s %s" % (type(os.environ).__name__, "QUERY_STRING" in os.environ))
    return apache.OK
