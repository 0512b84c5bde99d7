print("Location: /elsewhere")
print()
