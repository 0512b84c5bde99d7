"""A server that speaks first: its banner, then the connection closes.
The tests rewrite this file to see the change on the next connection."""
from mod_python import apache

VERSION = 1


def connectionhandler(conn):
    conn.write("banner v%d from %s\n" % (VERSION, apache.interpreter))
    return apache.OK
