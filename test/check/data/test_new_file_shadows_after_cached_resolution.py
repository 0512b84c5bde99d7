os.mkdir(tmp + '/first'); os.mkdir(tmp + '/second')
write('second/sh.py', 'WHERE = 2\n')
dirs = [tmp + '/first', tmp + '/second']
for i in range(3): assert imp.import_module('sh', path=dirs).WHERE == 2
write('first/sh.py', 'WHERE = 1\n')
assert imp.import_module('sh', path=dirs).WHERE == 1
os.unlink(tmp + '/first/sh.py')
