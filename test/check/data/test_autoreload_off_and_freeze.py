write('a.py', 'V = 1\n')
m1 = imp.import_module('a', path=[tmp])
mptest.set('autoreload', False)
write('a.py', 'V = 2\n')
assert imp.import_module('a', path=[tmp]) is m1
m2 = imp.import_module('a', path=[tmp], autoreload=True)
assert m2.V == 2, 'explicit autoreload=True must check'
mptest.set('autoreload', True)
imp.freeze()
assert imp.frozen
write('a.py', 'V = 3\n')
assert imp.import_module('a', path=[tmp]) is m2
assert imp.import_module('a', path=[tmp], autoreload=True) is m2, 'frozen is for good'
