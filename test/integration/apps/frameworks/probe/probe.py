"""Run in an application's interpreter (PythonInterpreter): how many module
objects of the given names are alive, after a collection.  A reload that
kept the old generation alive shows 2 or more."""
import gc
import json
import types

from mod_python import apache


def handler(req):
    names = set(req.args.split(","))
    gc.collect()
    count = dict.fromkeys(sorted(names), 0)
    for o in gc.get_objects():
        if type(o) is types.ModuleType and o.__name__ in names:
            count[o.__name__] += 1
    req.content_type = "application/json"
    req.write(json.dumps(count))
    return apache.OK
