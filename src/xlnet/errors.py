class XlnetError(Exception):
    """An error a user can act on: the message says what is wrong and how to fix it."""
