def added(req):
    req.write("elsewhere:" + req.hlist.directory)
    return 0
