# A module file not named *.py (mod_python.wsgi.application app.wsgi) is
# followed like the others: with notification, its events are recorded
# because the importer asked for them.
p = write('app.wsgi', 'V = 1\n')
assert imp.import_module(p).V == 1
write('app.wsgi', 'V = 2\n')
assert imp.import_module(p).V == 2, 'edit of a non-.py module missed'
write('notes.txt', 'x')      # another file of the directory: no reload
m = imp.import_module(p)
assert m.V == 2 and imp.modules()[p]['load_count'] == 2
