owner = None
