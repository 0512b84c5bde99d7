# Thousands of reloads right after each write: with notification each read
# would wait FRESH_MS for a possible writer; memory is what this measures.
imp.notify = False
def rss():
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
body = 'DATA = list(range(2000))\ndef f(): return DATA\nclass K: pass\n'
write('big.py', body)
m = imp.import_module('big', path=[tmp])
ref = weakref.ref(m)
del m
for i in range(50):
    write('big.py', body + '#%d\n' % i); imp.import_module('big', path=[tmp])
gc.collect()
assert ref() is None, 'old module still alive'
base = rss()
for i in range(1000):
    write('big.py', body + '#%d\n' % (i + 5000)); imp.import_module('big', path=[tmp])
gc.collect(); base = rss()  # the first 1000 warm the allocator up
for i in range(1000):
    write('big.py', body + '#%d\n' % (i + 100)); imp.import_module('big', path=[tmp])
gc.collect()
grew = rss() - base
print('RSS growth over 1000 reloads: %d KiB' % (grew // 1024))
assert SANITIZED or grew < 2 * 1024 * 1024, grew
