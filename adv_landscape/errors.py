"""The one error type that means "bad input", not "a bug".

Library functions raise ``InvalidInput`` (a ``ValueError``, so callers that
catch ``ValueError`` keep working) for an argument, a file or a value a user
supplied: the message names it and says what to do. The command line maps
exactly this type to one line on stderr and exit code 2; any other exception
is a bug and keeps its traceback.

>>> try:
...   raise InvalidInput("eps=-1.0 must be positive; give --eps > 0")
... except ValueError as e:
...   print(e)
eps=-1.0 must be positive; give --eps > 0
"""

from __future__ import annotations

__all__ = ["InvalidInput"]


class InvalidInput(ValueError):
  """A user-supplied argument, file or value is unusable; the message says which and why."""
