from mod_python import apache
def raises(req):
    raise ValueError("<b>boom</b> & co")
def notint(req):
    return "nope"
def server_return(req):
    raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)
def server_return_status(req):
    req.content_type = "text/plain"
    req.write("partial", 0)
    raise apache.SERVER_RETURN((apache.OK, 202))
def notfound(req):
    return apache.HTTP_NOT_FOUND
