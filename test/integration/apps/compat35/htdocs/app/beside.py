def added(req):
    req.write("beside")
    return 0
