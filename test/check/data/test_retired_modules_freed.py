# A reload retires the old version; once nothing uses it, the host's
# collection frees it (module dict <-> function cycles), without waiting
# for the GC's own schedule, which is off here.
old_threshold = gc.get_threshold()
gc.collect()
gc.set_threshold(0)   # no automatic collection: only ours runs
try:
    body = ('class Sentinel: pass\nS = Sentinel()\nDATA = bytearray(1 << 20)\n'
            'def f(): return DATA\n')
    write('big.py', body)
    m = imp.import_module('big', path=[tmp])
    refs = [weakref.ref(m.S)]
    held = m                      # a request still using version 1
    del m
    for i in range(1, 6):
        write('big.py', body + '#%d\n' % i)
        refs.append(weakref.ref(imp.import_module('big', path=[tmp]).S))
    # versions 2..5 are retired and unused: due; version 1 is still held
    assert mptest.collect(imp)[0] == 1
    assert [r() is None for r in refs] == [False, True, True, True, True, False], \
        [r() is None for r in refs]
    assert mptest.collect(imp) == (0, 0), 'nothing new to collect'
    del held                      # the last request using version 1 ends
    due, n = mptest.collect(imp)
    assert due == 1 and n >= 1 and refs[0]() is None
    # control: without the host's collection the cycles stay
    write('big.py', body + '#x\n')
    r2 = weakref.ref(imp.import_module('big', path=[tmp]).S)
    write('big.py', body + '#y\n')
    imp.import_module('big', path=[tmp])
    assert r2() is not None, 'freed without a collection: the test shows nothing'
    assert mptest.collect(imp)[1] >= 1 and r2() is None
    # a retired module that imported another: both freed by one call
    write('leaf.py', 'class Sentinel: pass\nS = Sentinel()\n')
    write('mid.py', 'import leaf\nL = leaf\ndef g(): return L\n')
    m = imp.import_module('mid', path=[tmp])
    leaf1 = weakref.ref(m.L.S)
    del m
    write('leaf.py', 'class Sentinel: pass\nS = Sentinel()\nV = 2\n')
    imp.import_module('mid', path=[tmp])
    mptest.collect(imp)
    assert leaf1() is None, 'the old leaf, held by the old mid, not freed'
finally:
    gc.set_threshold(*old_threshold)
