"""mod_python.cache inside a handler, as a 3.5 application keeps one: a
FileCache and a ModuleCache for the life of the interpreter."""
import json
import os

from mod_python import apache, cache

files = cache.FileCache(max_size=10)
modules = cache.ModuleCache()
builds = []


class CountingFiles(cache.FileCache):
    def build(self, key, name, opened, entry):
        builds.append(name)
        return cache.FileCache.build(self, key, name, opened, entry)


counted = CountingFiles()


def handler(req):
    data = req.get_options()["data"]
    text = counted[os.path.join(data, "text.txt")]
    page = modules[os.path.join(data, "page.py")]
    req.content_type = "application/json"
    req.write(json.dumps({"text": text.decode(), "greeting": page.GREETING,
                          "module_id": id(page), "builds": len(builds),
                          "plain": files[os.path.join(data, "text.txt")].decode()}))
    return apache.OK
