write('d3.py', 'import sys\nsys.mp_loads.append("d3")\nX = 1\n')
write('d2.py', 'import sys, d3\nsys.mp_loads.append("d2")\n')
write('d1.py', 'import sys, d2\nsys.mp_loads.append("d1")\n')
write('top.py', 'import sys, d1\nsys.mp_loads.append("top")\n')
sys.mp_loads = []
t = imp.import_module('top', path=[tmp])
assert sys.mp_loads == ['d3', 'd2', 'd1', 'top'], sys.mp_loads
sys.mp_loads = []
assert imp.import_module('top', path=[tmp]) is t and sys.mp_loads == []
write('d3.py', 'import sys\nsys.mp_loads.append("d3")\nX = 2\n')
t2 = imp.import_module('top', path=[tmp])
assert sorted(sys.mp_loads) == ['d1', 'd2', 'd3', 'top'], sys.mp_loads
assert t2.d1.d2.d3.X == 2
sys.mp_loads = []
assert imp.import_module('top', path=[tmp]) is t2 and sys.mp_loads == []
print(imp.tree())
assert '  ' + tmp + '/d1.py' in imp.tree()
