p = write('same.py', 'V = 1\n')
assert imp.import_module(p).V == 1
assert watching() == NOTIFY
if watching():
    st = os.stat(p)
    with open(p, 'w') as f: f.write('V = 2\n')
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert imp.import_module(p).V == 2, 'same-size same-mtime rewrite missed'
    mptest.set('autoreload', False)
    with open(p, 'w') as f: f.write('V = 3\n')
    assert imp.import_module(p).V == 2, 'autoreload Off must not reload'
    mptest.set('autoreload', True)
    assert imp.import_module(p).V == 3
