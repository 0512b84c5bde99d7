import json
from mod_python import apache
kept = []
def handler(req):
    out = {"leftover": getattr(req, "mark", None), "phase": req.phase,
           "version": 1}
    req.mark = req.args
    if req.args == "keep":
        kept.append(req)
    elif kept:
        try:
            kept[0].uri
            out["kept"] = "alive"
        except RuntimeError:
            out["kept"] = "over"
        out["same"] = kept[0] is req
    req.content_type = "application/json"
    req.write(json.dumps(out))
    return apache.OK
