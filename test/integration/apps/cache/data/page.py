GREETING = "hello 1"
