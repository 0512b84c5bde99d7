# __mp_clone__ runs before the new version's body: a module-level
# assignment rebinds what the clone carried; the guarded idiom keeps it.
for guarded, expect in ((False, 0), (True, 5)):
    init = 'if "HITS" not in globals():\n    HITS = 0\n' if guarded else 'HITS = 0\n'
    body = init + 'def __mp_clone__(new):\n    new.HITS = HITS\n'
    p = write('hits%d.py' % guarded, body)
    m = imp.import_module(p)
    m.HITS = 5
    write('hits%d.py' % guarded, body + '# edited\n')
    assert imp.import_module(p).HITS == expect, (guarded, imp.import_module(p).HITS)
