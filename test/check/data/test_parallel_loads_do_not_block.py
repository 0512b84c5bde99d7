write('slow.py', 'import time\ntime.sleep(2)\n')
write('fast.py', 'V = 1\n')
t = threading.Thread(target=imp.import_module, args=('slow',), kwargs={'path': [tmp]})
t.start(); time.sleep(0.3)
t0 = time.time()
assert imp.import_module('fast', path=[tmp]).V == 1
took = time.time() - t0
t.join()
assert took < 1.0, 'a slow import blocked another module: %.2fs' % took
