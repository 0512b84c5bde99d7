write('arg.py', 'V = 1\n')
assert imp.import_module('arg', None, None, [tmp]).V == 1
assert imp.import_module(name='arg', path=[tmp], log=False, autoreload=True).V == 1
for args, kw in [((), {}), ((1,), {}), (('arg', 1, 2, [tmp], 5), {}),
                 (('arg',), {'nope': 1}), (('arg',), {'name': 'x'}),
                 (('arg',), {'path': 'notalist'})]:
    try:
        imp.import_module(*args, **kw)
        raise AssertionError('accepted %r %r' % (args, kw))
    except TypeError:
        pass
