import os
import sys

print("Content-Type: text/plain")
print("X-Script: hello")
print()
print("hello", os.environ.get("QUERY_STRING", ""), os.environ["GATEWAY_INTERFACE"])
print("script", os.environ["SCRIPT_NAME"], os.getcwd() == os.path.dirname(__file__))
