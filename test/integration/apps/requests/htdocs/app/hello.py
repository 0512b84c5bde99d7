from mod_python import apache
def handler(req):
    req.content_type = "text/plain"
    body = b"Hello, world!\n"
    req.set_content_length(len(body))
    req.write(body)
    return apache.OK
