v1 = ('import threading\nif "STATE" not in globals():\n    STATE = []; LOCK = threading.Lock()\n'
      'def __mp_clone__(new):\n    import sys; sys.cloned = new\n'
      '    with LOCK:\n        new.STATE = STATE; new.LOCK = LOCK\n')
write('c.py', v1)
m1 = imp.import_module('c', path=[tmp])
m1.STATE.append('kept')
v2 = ('if "STATE" not in globals():\n    STATE = []\nV = 2\n'
      'def __mp_clone__(new): raise RuntimeError("no clone")\n'
      'def __mp_purge__():\n    import sys; sys.purged = True\n')
write('c.py', v2)
m2 = imp.import_module('c', path=[tmp])
assert sys.cloned is m2 and m2 is not m1, 'clone got another module'
assert m2.V == 2 and m2.STATE == ['kept'] and m2.LOCK is m1.LOCK
assert any("Cloned module '%s/c.py'" % tmp in l for l in logs()), logs()
sys.purged = False
clear_logs()
write('c.py', 'X = 1\n')
m3 = imp.import_module('c', path=[tmp])
assert m3.X == 1 and sys.purged is True, 'purge not called'
assert not hasattr(m3, 'STATE'), 'fresh load expected after a failed clone'
assert any('__mp_clone__ failed' in l for l in logs()), logs()
assert any('RuntimeError: no clone' in l for l in logs()), logs()
assert any('Purged module' in l for l in logs())
del sys.cloned
