for i in range(10): write('k%d.py' % i, 'V = %d\n' % i)
write('wide.py', ''.join('import k%d\n' % i for i in range(10)))
imp.import_module('wide', path=[tmp])
imp.import_module('wide', path=[tmp])
assert watching() == NOTIFY, 'inotify did not start'
before = imp.stat_calls
for i in range(100): imp.import_module('wide', path=[tmp])
spent = imp.stat_calls - before
if watching():
    assert spent == 0, 'a fresh watched tree needs no stat: %d' % spent
else:
    assert spent == 100 * 11, 'stat fallback: 11 files per call, got %d' % spent
write('k9.py', 'V = 99\n')
assert imp.import_module('wide', path=[tmp]).k9.V == 99
