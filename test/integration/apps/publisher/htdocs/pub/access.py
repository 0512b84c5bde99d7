"""__auth__ and __access__ as callables at module level."""
import json


def __auth__(req, user, passwd):
    return passwd == user[::-1]


def __access__(req, user):
    return not user.startswith("x")


def index(req):
    return json.dumps({"user": req.user})
