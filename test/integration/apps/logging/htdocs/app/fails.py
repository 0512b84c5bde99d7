from mod_python import apache


def handler(req):
    raise RuntimeError("handler failed on purpose")


def cleanup(req):
    def boom(data):
        raise ValueError("cleanup failed on purpose")
    req.register_cleanup(boom)
    req.write("ok")
    return apache.OK
