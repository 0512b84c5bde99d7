from mod_python import apache
def transhandler(req):
    if req.uri.startswith("/translated/"):
        req.filename = req.document_root() + "/app/static.txt"
        return apache.OK
    return apache.DECLINED
