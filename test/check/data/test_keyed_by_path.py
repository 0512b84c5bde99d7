os.mkdir(tmp + '/a'); os.mkdir(tmp + '/b')
write('a/common.py', 'WHERE = "a"\n')
write('b/common.py', 'WHERE = "b"\n')
ma = imp.import_module('common', path=[tmp + '/a'])
mb = imp.import_module('common', path=[tmp + '/b'])
assert ma is not mb and ma.WHERE == 'a' and mb.WHERE == 'b'
assert ma.__file__ == tmp + '/a/common.py'
# named as the user wrote it, told apart by __file__; in sys.modules neither way
assert ma.__name__ == mb.__name__ == 'common'
assert repr(ma) == "<module 'common' from '%s/a/common.py'>" % tmp
assert 'common' not in sys.modules
assert ma.__mp_path__ == [] and ma.__mp_info__.file == ma.__file__
assert imp.import_module('common', path=[tmp + '/a']) is ma
assert set(imp.modules()) == {ma.__file__, mb.__file__}
