write('xa.py', 'import time\ntime.sleep(0.5)\nimport xb\nA = 1\n')
write('xb.py', 'import time\ntime.sleep(0.5)\nimport xa\nB = 1\n')
res = {}
def run(n): res[n] = imp.import_module(n, path=[tmp])
ts = [threading.Thread(target=run, args=(n,), daemon=True) for n in ('xa', 'xb')]
[t.start() for t in ts]; [t.join(10) for t in ts]
assert not any(t.is_alive() for t in ts), 'deadlock'
assert res['xa'].A == 1 and res['xb'].B == 1
