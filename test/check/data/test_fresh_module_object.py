write('f.py', 'KEEP = 1\nGONE = 2\n')
m1 = imp.import_module('f', path=[tmp])
m1.ADDED = 3
write('f.py', 'KEEP = 10\n')
m2 = imp.import_module('f', path=[tmp])
assert m2 is not m1 and m2.KEEP == 10
assert not hasattr(m2, 'GONE') and not hasattr(m2, 'ADDED')
assert m1.GONE == 2
