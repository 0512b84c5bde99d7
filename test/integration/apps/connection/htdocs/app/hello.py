from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("hello from %s to port %d\n" % (req.uri, req.connection.client_addr[1]))
    return apache.OK


def raw(req):
    """A request's connection has no raw I/O: it would break HTTP."""
    out = []
    for call in (lambda: req.connection.write(b"x"), lambda: req.connection.read(1),
                 lambda: req.connection.readline()):
        try:
            call()
            out.append("no error")
        except RuntimeError as e:
            out.append(str(e))
    req.content_type = "text/plain"
    req.write("\n".join(out) + "\n")
    return apache.OK
