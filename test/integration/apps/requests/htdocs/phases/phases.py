import os
from mod_python import apache
def record(req, what):
    notes = req.notes.get("phases", "")
    req.notes["phases"] = notes + what + ","
def postreadrequesthandler(req):
    record(req, "postread")
    return apache.DECLINED
def inithandler(req):
    record(req, "init")
    return apache.OK
def headerparserhandler(req):
    record(req, "headerparser")
    return apache.OK
def accesshandler(req):
    record(req, "access")
    if req.args == "deny":
        return apache.HTTP_FORBIDDEN
    return apache.OK
def authenhandler(req):
    record(req, "authen")
    req.user = "alice"
    return apache.OK
def authzhandler(req):
    record(req, "authz")
    return apache.OK
def typehandler(req):
    record(req, "type")
    req.content_type = "text/x-python-typed"
    return apache.OK
def fixuphandler(req):
    record(req, "fixup")
    return apache.OK
def handler(req):
    record(req, "handler")
    req.write(req.notes["phases"] + "|" + req.user + "|" + req.content_type)
    return apache.OK
def loghandler(req):
    with open(req.get_options()["logfile"], "a") as f:
        f.write("log:" + req.uri + "\n")
    return apache.OK
def cleanuphandler(req):
    with open(req.get_options()["logfile"], "a") as f:
        f.write("cleanup:" + req.uri + "\n")
    return apache.OK
