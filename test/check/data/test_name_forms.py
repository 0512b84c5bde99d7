os.mkdir(tmp + '/h'); os.mkdir(tmp + '/h/sub')
write('h/x.py', 'V = 1\n')
write('h/sub/y.py', 'V = 2\n')
m = imp.import_module(tmp + '/h/x.py')
assert m.V == 1 and imp.import_module(tmp + '/h/x') is m
assert imp.import_module(tmp + '/h/sub/../x.py') is m, 'path not normalised'
mptest.set('handler_dir', tmp + '/h/')
assert imp.import_module('~/x.py') is m and imp.import_module('~/sub/y').V == 2
sys.modules['_mpimp'] = imp
write('h/sub/parent.py', "import _mpimp\nUP = _mpimp.import_module('../x')\nHERE = _mpimp.import_module('./y')\n")
p = imp.import_module('~/sub/parent')
assert p.UP is m and p.HERE.V == 2
try:
    imp.import_module('~/missing'); raise AssertionError('no error')
except ImportError as e: assert 'missing' in str(e)
try:
    imp.import_module('a/b'); raise AssertionError('no error')
except ImportError: pass
assert imp.import_module('json') is sys.modules['json']
assert imp.import_module('os.path') is sys.modules['os.path']
del sys.modules['_mpimp']
