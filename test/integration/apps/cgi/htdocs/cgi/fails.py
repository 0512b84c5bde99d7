raise RuntimeError("cgi script failed")
