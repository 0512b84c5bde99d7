# The remembered import of a configured handler (mp_importer_import_memo)
# answers what a full import would, request after request.
def request():
    mptest.set('request_cache', {})      # a new request: its own modules, a new poll
memo = mptest.memo_new()
def get(name='h', path=None):
    return mptest.memo_import(memo, imp, name, [tmp] if path is None else path)

p = write('h.py', 'V = 1\n')
request()
m1 = get()
request()
assert get() is m1 and m1.V == 1
# filled only where it can be trusted: with notification (an event tells
# it is stale); with stat() every call is a full import
assert mptest.memo_filled(memo) == watching()
hits = imp.modules()[p]['hits']
request()
assert get() is m1 and imp.modules()[p]['hits'] == hits + 1, 'a hit is counted'

# a new version: the next request gets it
write('h.py', 'V = 2\n')
request()
assert get().V == 2
# ...but within one request, the version it already had
m2 = get()
write('h.py', 'V = 3\n')
assert get() is m2, 'changed within a request'
request()
assert get().V == 3

# another search path (mod_python.importer.path differs where the same
# handler is configured): another file
os.mkdir(tmp + '/a'); os.mkdir(tmp + '/b')
write('a/w.py', 'W = "a"\n'); write('b/w.py', 'W = "b"\n')
for _ in range(3):
    for where in 'ab':
        mptest.set('search_path', [tmp + '/' + where])
        request()
        assert get('w', []).W == where, where
mptest.set('search_path', None)

# autoreload Off: remembered in both modes, and stays with what it had
mptest.set('autoreload', False)
request()
m3 = get()
write('h.py', 'V = 4\n')
request()
assert get() is m3 and mptest.memo_filled(memo)
mptest.set('autoreload', True)
request()
assert get().V == 4

# freeze: no reload after it, through the memo too
imp.freeze()
write('h.py', 'V = 5\n')
request()
assert get().V == 4
del memo   # it holds an entry: no importer object may outlive the test
