import os, sys, time, threading, gc, weakref, mptest
def write(name, text, newer=True):
    p = os.path.join(tmp, name)
    old = os.stat(p).st_mtime_ns if os.path.exists(p) else None
    with open(p, 'w') as f: f.write(text)
    if newer and old is not None:
        os.utime(p, ns=(old + 10**9, old + 10**9))
    return p
def logs(): return list(mptest.logs())
def watching(): return imp.notify and mptest.epoch() > 0
NOTIFY = os.environ.get('MP_TEST_NOTIFY') != '0'
def clear_logs(): del mptest.logs()[:]
