os.mkdir(tmp + '/lib')
write('lib/shared.py', 'S = 1\n')
write('user.py', 'import shared\n')
mptest.set('search_path', [tmp + '/lib'])
u = imp.import_module('user', path=[tmp])
assert u.shared.__file__ == tmp + '/lib/shared.py'
assert 'shared' not in sys.modules
write('mp.py', '__mp_path__.append(%r)\nimport other\n' % (tmp + '/lib'))
write('lib/other.py', 'O = 1\n')
mptest.set('search_path', None)
assert imp.import_module('mp', path=[tmp]).other.O == 1
