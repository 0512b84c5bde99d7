write('r.py', 'V = 1\n')
cache = {}
mptest.set('request_cache', cache)
m1 = imp.import_module('r', path=[tmp])
write('r.py', 'V = 2\n')
assert imp.import_module('r', path=[tmp]) is m1, 'changed within a request'
mptest.set('request_cache', {})
assert imp.import_module('r', path=[tmp]).V == 2
