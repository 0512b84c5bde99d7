# A reload whose source is unchanged (a child changed) runs the last
# version's code again instead of compiling; a changed source, even of the
# same size within one clock tick, is compiled.
write('kid.py', 'K = 1\n')
p = write('top.py', 'import kid\ndef f(): return kid.K\nX = 1\n')
m1 = imp.import_module(p)
write('kid.py', 'K = 2\n')
m2 = imp.import_module(p)
assert m2 is not m1 and m2.f() == 2
assert m2.f.__code__ is m1.f.__code__, 'same source compiled again'
# same size, same mtime (restored), different content: stat cannot tell,
# a child change reloads it, and the content decides
st = os.stat(p)
with open(p, 'w') as f: f.write('import kid\ndef f(): return kid.K\nX = 2\n')
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
write('kid.py', 'K = 3\n')
m3 = imp.import_module(p)
assert m3.X == 2 and m3.f() == 3, 'stale code served'
assert m3.f.__code__ is not m2.f.__code__
# with the cache off every reload compiles
mptest.set('bytecode', False)
write('kid.py', 'K = 4\n')
m4 = imp.import_module(p)
assert m4.f.__code__ is not m3.f.__code__ and m4.f() == 4
