WORD = "helper-v1"
