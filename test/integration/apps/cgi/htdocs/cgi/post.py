import sys

body = sys.stdin.read()
sys.stdout.write("Content-Type: text/plain\r\n\r\n")
sys.stdout.write("got %d: %s" % (len(body), body.upper()))
