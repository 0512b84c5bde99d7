write('child.py', 'VALUE = 1\n')
write('parent.py', 'import child\nfrom child import VALUE\nimport json\n')
p = imp.import_module('parent', path=[tmp])
assert p.VALUE == 1 and p.child.__file__ == tmp + '/child.py'
assert p.json is sys.modules['json']
assert imp.modules()[p.__file__]['children'] == (tmp + '/child.py',)
write('child.py', 'VALUE = 22\n')
p2 = imp.import_module('parent', path=[tmp])
assert p2 is not p and p2.VALUE == 22, 'from child import VALUE is stale'
assert imp.import_module('parent', path=[tmp]) is p2
