"""Shared pytest configuration.

Tests live in ``unit/`` (no sockets, injected clock), ``property/``
(Hypothesis), ``integration/`` (a real server on loopback or a unix socket)
and ``compat/`` (the public surface Daphne users import).

Tests that take seconds (a server process per test, floods measured in CPU and
memory, external programs) carry the ``slow`` marker: ``pytest -m "not slow"`` is
the quick inner loop, plain ``pytest`` (what CI runs) runs everything.
"""

from __future__ import annotations

import os
import sys

from hypothesis import HealthCheck, settings

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    # Lets tests import helpers such as ``strategies`` and ``apps.*``.
    sys.path.insert(0, TESTS_DIR)

# Hypothesis profiles: "default" (200 examples, as the guide asks of property tests),
# "ci" (the same, derandomized, chosen when CI is set) and "fast" (25 examples, for the
# inner loop). HYPOTHESIS_PROFILE=NAME picks one, as does pytest's --hypothesis-profile.
settings.register_profile(
    "default", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True)
settings.register_profile(
    "fast", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)
