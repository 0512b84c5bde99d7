# Messages, reprs and class names show the name the user wrote and the
# file, never an internal name.
import traceback
p = write('shop.py', 'class OutOfStock(Exception):\n    pass\n'
          'class Cart:\n    pass\n'
          'def buy():\n    raise OutOfStock("no more")\n')
m = imp.import_module('shop', path=[tmp])
assert m.__name__ == 'shop' and m.__file__ == p
assert repr(m) == "<module 'shop' from '%s'>" % p, repr(m)
assert m.Cart.__module__ == 'shop' and repr(m.Cart) == "<class 'shop.Cart'>"
try:
    m.buy()
except Exception as e:
    text = ''.join(traceback.format_exception(e))
assert text.rstrip().endswith('shop.OutOfStock: no more'), text
assert 'File "%s", line 6, in buy' % p in text, text
try:
    m.nothing
except AttributeError as e:
    assert str(e) == "module 'shop' has no attribute 'nothing'", e
# a path import is named after the file too
q = write('lib_x.py', 'def f(): return __name__\n')
assert imp.import_module(q).f() == 'lib_x'
assert '_mp_' not in imp.tree()
