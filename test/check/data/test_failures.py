write('bad.py', 'def broken(:\n')
try:
    imp.import_module('bad', path=[tmp]); raise AssertionError
except SyntaxError: pass
assert tmp + '/bad.py' not in imp.modules(), 'failed first import was cached'
write('bad.py', 'raise ValueError("boom")\n')
try:
    imp.import_module('bad', path=[tmp]); raise AssertionError
except ValueError: pass
assert tmp + '/bad.py' not in imp.modules()
write('good.py', 'V = 1\n')
g1 = imp.import_module('good', path=[tmp])
write('good.py', 'V = (\n')
for i in range(2):
    try:
        imp.import_module('good', path=[tmp]); raise AssertionError
    except SyntaxError: pass
info = imp.modules()[tmp + '/good.py']
assert info['module'] is g1 and info['failed'], 'last good version lost'
write('good.py', 'V = 2\n')
assert imp.import_module('good', path=[tmp]).V == 2
# a broken child makes the parent's import fail, then recover
write('kid.py', 'K = 1\n')
write('dad.py', 'import kid\nK = kid.K\n')
assert imp.import_module('dad', path=[tmp]).K == 1
write('kid.py', 'K = (\n')
try:
    imp.import_module('dad', path=[tmp]); raise AssertionError
except SyntaxError: pass
write('kid.py', 'K = 3\n')
assert imp.import_module('dad', path=[tmp]).K == 3
