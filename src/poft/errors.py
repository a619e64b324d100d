"""The root of poft's exceptions, and the one class for bad input.

Every error poft raises on purpose derives from `PoftError`. `InputError` means
that what the user gave was wrong — a config, a command-line value, a file, a
key, a deployment — and says what and how to fix it: the command line prints it
as one line and exits with status 2. Any other exception that reaches the
command line is a bug in poft (status 1). `InputError` is also a `ValueError`,
so code that validates values the Python way keeps working.
"""


class PoftError(Exception):
    """Root of every exception that poft raises on purpose."""


class InputError(PoftError, ValueError):
    """Bad input from the user (config, flags, files, keys, deployment): one line, exit 2."""


__all__ = ["PoftError", "InputError"]
