"""The demo's content handler: mod_python 3.5's API, with the new importer.

Edit greeting.py (or this file) and reload the page: the next request runs
the new code, without restarting Apache.
"""
import os

import greeting                      # found beside this file: tracked, reloaded
from mod_python import apache

# __mp_clone__ (below) runs on the old module before this file's new
# version executes: set the counter only on the first load, or this line
# would reset what the clone carried over.
if "HITS" not in globals():
    HITS = 0


def __mp_clone__(new):
    # Called on the old module when this file (or greeting.py) is reloaded.
    new.HITS = HITS


def handler(req):
    global HITS
    HITS += 1
    req.content_type = "text/plain; charset=utf-8"
    body = "\n".join([
        greeting.message(req),
        "",
        "interpreter : %s (one per virtual host)" % req.interpreter,
        "process     : pid %d, MPM %s" % (os.getpid(), apache.mpm_name()),
        "hits here   : %d (kept across reloads by __mp_clone__)" % HITS,
        "",
        "Modules this interpreter has loaded:",
        apache.module_tree(),
        "",
    ]).encode()
    req.set_content_length(len(body))
    req.write(body)
    return apache.OK
