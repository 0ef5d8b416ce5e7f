"""Exceptions with status hints, mapped to responses in one place.

Covered by ``tests/unit/test_pure_layers.py`` (the parser's ``BadRequest``),
``tests/unit/test_http_cycle.py`` and ``tests/unit/test_cycle_extensions.py``
(``ApplicationMessageError``).
"""

from __future__ import annotations

__all__ = ["ApplicationMessageError", "BadRequest", "DaphneError"]


class DaphneError(Exception):
    """Base class of the server's own errors."""


class BadRequest(DaphneError):
    """A request the server refuses before it reaches the application.

    :ivar status: the HTTP status code to answer with (400, 414, 431, 501, 505...).
    :ivar reason: a short human-readable reason, shown in the error page.
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ApplicationMessageError(DaphneError, ValueError):
    """The application sent a message that is not valid at this point.

    A ``ValueError`` so that code written against Daphne, which raised
    ``ValueError`` from ``send``, keeps catching it.
    """
