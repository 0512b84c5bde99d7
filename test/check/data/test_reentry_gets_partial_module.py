write('self.py', 'FIRST = 1\nimport self as me\nSEEN = hasattr(me, "FIRST") and not hasattr(me, "LAST")\nLAST = 1\n')
m = imp.import_module('self', path=[tmp])
assert m.SEEN and m.me is m
write('ca.py', 'import cb\nA = 1\n')
write('cb.py', 'import ca\nB = 1\n')
a = imp.import_module('ca', path=[tmp])
assert a.cb.ca is a and a.A == 1
assert imp.import_module('ca', path=[tmp]) is a, 'a cycle must not reload forever'
assert imp.import_module('cb', path=[tmp]) is a.cb
assert any('cycle' in l for l in logs())
