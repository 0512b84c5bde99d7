"""A connection handler in the Class.method form: mod_python makes
Proto(conn), then calls its method with conn; it declines, and HTTP serves
the connection."""
from mod_python import apache


class Proto:
    def __init__(self, conn):
        self.conn = conn

    def decline(self, conn):
        assert self.conn is conn
        conn.log_error("other: declined %s in %s" % (conn.hlist.handler,
                                                     apache.interpreter),
                       apache.APLOG_NOTICE)
        return apache.DECLINED
