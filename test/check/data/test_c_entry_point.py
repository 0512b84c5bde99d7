write('h.py', 'def handler(req): return req\n')
m = mptest.c_import(imp, 'h', [tmp])
assert m.handler(5) == 5 and mptest.c_import(imp, 'h', [tmp]) is m
