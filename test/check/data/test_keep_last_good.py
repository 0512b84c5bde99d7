# PythonOption mod_python.importer.on_reload_error keep: a failed reload
# keeps the last good version, logs once, retries only when the file
# changes again.  Default: the error reaches the caller, retried each call.
p = write('k.py', 'V = 1\n')
assert imp.import_module('k', path=[tmp]).V == 1
info = lambda: imp.modules()[p]
good = 1
for keep in (False, True):
    mptest.set('keep_last_good', keep)
    clear_logs()
    write('k.py', 'V = (\n')
    for i in range(3):
        if keep:
            assert imp.import_module('k', path=[tmp]).V == good
        else:
            try:
                imp.import_module('k', path=[tmp])
                raise AssertionError('the error must reach the caller')
            except SyntaxError:
                pass
    assert info()['last_error'].startswith('SyntaxError: '), info()
    failed = [l for l in logs() if 'Reload failed, keeping the last good version' in l]
    assert len(failed) == (1 if keep else 0), logs()
    if keep:
        assert any('SyntaxError' in l for l in logs()), logs()
        assert info()['failed'] is False
    good += 1
    write('k.py', 'V = %d\n' % good)
    assert imp.import_module('k', path=[tmp]).V == good
    assert info()['last_error'] is None
# a failing first import has no last good version: the error reaches the caller
write('new.py', 'raise ValueError("first")\n')
try:
    imp.import_module('new', path=[tmp])
    raise AssertionError('first import error hidden')
except ValueError:
    pass
# a body that raises (not only a syntax error) is kept over too
write('k.py', 'V = 4\nraise RuntimeError("later")\n')
assert imp.import_module('k', path=[tmp]).V == 3
assert 'RuntimeError: later' in info()['last_error']
