from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("hello from %s over connection %d\n" % (req.uri, req.connection.id))
    return apache.OK
