import sys

data = sys.stdin.buffer.read()
sys.stdout.buffer.write(b"Content-Type: application/octet-stream\n\n")
sys.stdout.buffer.write(bytes(reversed(data)))
