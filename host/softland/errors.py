class UserError(Exception):
    """A problem with the user's input: printed as one line, non-zero exit, no traceback."""
