"""The handler of the configuration write_basic_config generates
(test_confgen.py): found on the PythonPath it wrote, it reports what that
configuration gave it as JSON."""
import json
import os
import pwd
import sys

from mod_python import apache


def handler(req):
    req.content_type = "application/json"
    req.write(json.dumps({
        "uri": req.uri,
        "options": dict(req.get_options().items()),
        "user": pwd.getpwuid(os.getuid()).pw_name,
        "file": __file__,
        "in_path": [p for p in sys.path if p.endswith("/public")],
        "threaded": bool(apache.mpm_query(apache.AP_MPMQ_IS_THREADED)),
    }))
    return apache.OK
