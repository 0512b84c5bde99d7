write('hot.py', 'import sys, time\nsys.hot_runs = getattr(sys, "hot_runs", 0) + 1\ntime.sleep(0.3)\nV = 1\n')
imp.import_module('hot', path=[tmp])
sys.hot_runs = 0
write('hot.py', 'import sys, time\nsys.hot_runs = getattr(sys, "hot_runs", 0) + 1\ntime.sleep(0.3)\nV = 2\n')
got = []
def run(): got.append(imp.import_module('hot', path=[tmp]))
ts = [threading.Thread(target=run) for i in range(20)]
[t.start() for t in ts]; [t.join() for t in ts]
assert sys.hot_runs == 1, 'body ran %d times' % sys.hot_runs
assert len(got) == 20 and all(m is got[0] and m.V == 2 for m in got)
