from mod_python import apache
def handler(req):
    req.headers_out["X-One"] = "1"
    req.headers_out.add("X-Multi", "a")
    req.headers_out.add("X-Multi", "b")
    req.err_headers_out["X-Err"] = "e"
    t = apache.table({"a": "1"})
    t.add("A", "2")
    assert t["a"] == ["1", "2"] and len(t) == 2 and "A" in t
    assert sorted(t.keys()) == ["A", "a"]
    assert req.headers_out.get("x-multi") == "a"     # 3.5: the first value
    assert req.headers_out["x-multi"] == ["a", "b"]
    del req.headers_out["x-one"]
    req.headers_out["X-Two"] = "2"
    try:
        req.headers_out["X-Bad"] = "a\r\nInjected: yes"
        return apache.HTTP_INTERNAL_SERVER_ERROR
    except ValueError:
        pass
    req.notes["n"] = "v"
    req.subprocess_env["E"] = "v"
    req.content_type = "text/plain"
    req.write("%s %s" % (req.notes["n"], req.subprocess_env.get("E")))
    return apache.OK
