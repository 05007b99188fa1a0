"""The one exception type that the command-line scripts turn into a single clear error line."""


class UserError(Exception):
    """Bad input the user can fix (missing dataset, wrong weights file, impossible k/B).

    Scripts print the message as one line on stderr and exit with status 2, so no traceback hides what to do.
    """
