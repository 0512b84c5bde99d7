"""Module-level access: every object here needs joe's or ann's password,
and only joe may see admin-only objects (their own __access__)."""
__auth_realm__ = "Members Only"
__auth__ = {"joe": "secret", "ann": "pw:with:colons"}


def index(req):
    return "auth index"


class _Admin:
    __access__ = ["joe"]

    def page(self, req):
        return "admin page"


admin = _Admin()
