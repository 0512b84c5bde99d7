p = write('m.py', 'A = 1\n')
m1 = imp.import_module('m', path=[tmp])
# older mtime: a restored backup
st = os.stat(p)
with open(p, 'w') as f: f.write('A = 2\n')
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - 10**10))
m2 = imp.import_module('m', path=[tmp])
assert m2 is not m1 and m2.A == 2, 'older mtime missed'
# atomic rename, same size and mtime: a new inode
with open(tmp + '/new.tmp', 'w') as f: f.write('A = 3\n')
st = os.stat(p)
os.utime(tmp + '/new.tmp', ns=(st.st_atime_ns, st.st_mtime_ns))
os.rename(tmp + '/new.tmp', p)
m3 = imp.import_module('m', path=[tmp])
assert m3.A == 3, 'rename missed'
# size change with mtime put back
st = os.stat(p)
with open(p, 'w') as f: f.write('A = 44\n')
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
assert imp.import_module('m', path=[tmp]).A == 44, 'size change missed'
