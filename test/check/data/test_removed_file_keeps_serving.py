p = write('gone.py', 'V = 1\n')
m = imp.import_module(p)
os.unlink(p)
clear_logs()
assert imp.import_module(p) is m
assert imp.import_module(p) is m
removed = [l for l in logs() if 'removed' in l]
assert len(removed) == 1 and p in removed[0], logs()
