# With notification, a module file a writer still has open is never
# loaded: its last version keeps serving until the writer closes it, also
# when a child's change makes the importer reload it.
write('child.py', 'C = 1\n')
p = write('parent.py', 'import child\nV = 1\ndef get(): return (V, child.C, DONE)\nDONE = 1\n')
assert imp.import_module(p).get() == (1, 1, 1)
assert watching() == NOTIFY
if watching():
    f = open(p, 'w')                       # in place: truncated now
    f.write('import child\nV = 2\n'); f.flush()
    assert imp.import_module(p).get() == (1, 1, 1), 'half-written file loaded'
    write('child.py', 'C = 2\n')           # a child change reloads the parent...
    m = imp.import_module(p)
    assert m.get() == (1, 2, 1), m.get()   # ...from its last good code
    f.write('def get(): return (V, child.C, DONE)\n'); f.flush()
    assert imp.import_module(p).get() == (1, 2, 1)
    f.write('DONE = 2\n'); f.close()
    assert imp.import_module(p).get() == (2, 2, 2), 'closed file not reloaded'
    # a rename into place counts at once
    tmpf = p + '.tmp'
    with open(tmpf, 'w') as g: g.write('import child\ndef get(): return (3, child.C, 3)\n')
    os.rename(tmpf, p)
    assert imp.import_module(p).get() == (3, 2, 3)
    # a first import waits for the writer (here: 0.2 s)
    q = os.path.join(tmp, 'fresh.py')
    g = open(q, 'w'); g.write('A = 1\n'); g.flush()
    def finish():
        time.sleep(0.2); g.write('B = 2\n'); g.close()
    t = threading.Thread(target=finish); t.start()
    m = imp.import_module(q)
    t.join()
    assert (m.A, m.B) == (1, 2), 'first import read a half-written file'
