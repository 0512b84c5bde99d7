"""Access rules inside functions' bodies, read without running them."""
USERS = {"joe": "secret"}


def check(req, user, passwd):
    return user == "bob" and passwd == "builder"


def with_dict(req):
    __auth_realm__ = "Dict Realm"
    __auth__ = {"joe": "secret"}
    return "with dict"


def with_def(req):
    def __auth__(req, user, passwd, expected="builder"):
        return user == "bob" and passwd == expected
    return "with def"


def with_lambda(req):
    __auth__ = lambda req, user, passwd: passwd == "lambda"
    __access__ = ("ann", "joe")
    return "with lambda"


def with_global(req):
    __auth__ = USERS
    return "with global"


def with_global_func(req):
    __auth__ = check
    return "with global func"


def never(req):
    __auth__ = 0
    return "never"


def access_only(req):
    __access__ = ["joe"]
    return "access only"


def unreadable(req):
    __auth__ = dict(joe="secret")
    return "should not be published"


def closure(req):
    password = "secret"

    def __auth__(req, user, passwd):
        return passwd == password
    return "should not be published"


def attribute(req):
    return "attribute"


attribute.__auth__ = {"joe": "secret"}


class Box:
    def method(self, req):
        __auth__ = {"ann": "box"}
        __auth_realm__ = "Box"
        return "box method"


box = Box()
