import sys

print("Status: 404 Not Found")
print("Content-Type: text/plain")
print()
print("no such thing")
sys.exit(0)
