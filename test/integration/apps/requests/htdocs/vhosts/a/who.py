import shared_state
shared_state.owner = "a"
from mod_python import apache
def handler(req):
    req.content_type = "text/plain"
    req.write("%s %s %s" % (req.interpreter, shared_state.owner, __file__))
    return apache.OK
