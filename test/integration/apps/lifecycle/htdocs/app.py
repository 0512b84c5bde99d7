import os, threading, time
from mod_python import apache
import _thread
def handler(req):
    if req.args and req.args.startswith("sleep"):
        time.sleep(float(req.args[5:]))
    req.content_type = "text/plain"
    req.write("%d %d %s" % (os.getpid(), _thread.get_ident(), req.interpreter))
    return apache.OK
