"""Shared pytest configuration.

Tests live in ``unit/`` (no sockets, injected clock), ``property/``
(Hypothesis), ``integration/`` (a real server on loopback or a unix socket)
and ``compat/`` (the public surface Daphne users import).
"""

from __future__ import annotations

import os
import sys

from hypothesis import HealthCheck, settings

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    # Lets tests import helpers such as ``strategies`` and ``apps.*``.
    sys.path.insert(0, TESTS_DIR)

settings.register_profile(
    "default", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")
