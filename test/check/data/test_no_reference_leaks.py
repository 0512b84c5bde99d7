os.mkdir(tmp + '/lk')
d = [tmp + '/lk']
mptest.set('handler_dir', tmp + '/lk')
def expect(exc, *a, **kw):
    try:
        imp.import_module(*a, **kw)
    except exc:
        return
    raise AssertionError('%r did not raise %s' % (a, exc.__name__))
def cycle(i):
    # a reload of parent and child; the clone hook alternately carries
    # state over and raises (then purge, a logged traceback)
    write('lk/kid.py', 'K = %d\n' % i)
    write('lk/top.py', 'import kid, json\nV = kid.K\n'
          'def __mp_clone__(new):\n    %s\n'
          'def __mp_purge__(): pass\n'
          % ('raise RuntimeError(V)' if i % 2 else 'new.OLD = V'))
    assert imp.import_module('top', path=d).V == i
    assert imp.import_module('top', path=d, autoreload=True).V == i
    assert mptest.c_import(imp, 'top', d).V == i
    # a module importing itself: the partly initialised module
    write('lk/me.py', 'import me\nV = %d\n' % i)
    assert imp.import_module('me', path=d).me.V == i
    # a request holding two modules
    mptest.set('request_cache', {})
    assert imp.import_module('top', path=d).kid is imp.import_module('kid', path=d)
    mptest.set('request_cache', None)
    # failures: first import raising, syntax error, failed reload of a
    # child (last good kept), missing files, bad names and arguments
    write('lk/raises.py', 'raise ValueError(%d)\n' % i)
    expect(ValueError, 'raises', path=d)
    write('lk/syn.py', 'def broken(:\n#%d\n' % i)
    expect(SyntaxError, 'syn', path=d)
    write('lk/kid.py', 'K = (\n#%d\n' % i)
    expect(SyntaxError, 'top', path=d)
    expect(ImportError, '~/missing')
    expect(ImportError, tmp + '/lk/missing.py')
    expect(ImportError, 'no/such')
    expect(TypeError, 'top', path='notalist')
    imp.modules(); imp.tree()
    clear_logs()
def census():
    sys._clear_type_cache()
    gc.collect()
    return len(gc.get_objects()), sys.getallocatedblocks()
def types():
    gc.collect()
    n = {}
    for o in gc.get_objects():
        n[type(o).__name__] = n.get(type(o).__name__, 0) + 1
    return n
for i in range(10): cycle(i)  # warm caches and free lists up
types0 = types()  # before the census: it is in both counts
objs0, blocks0 = census()
N = 20
for i in range(10, 10 + N): cycle(i)
objs, blocks = census()
print('%d import cycles: %+d GC objects, %+d blocks' % (N, objs - objs0, blocks - blocks0))
grew = sorted(((v - types0.get(k, 0), k) for k, v in types().items()), reverse=True)
assert objs - objs0 <= 3, 'GC objects grew by %d: %s' % (objs - objs0, grew[:5])
assert blocks - blocks0 <= 10, 'allocated blocks grew by %d' % (blocks - blocks0)
