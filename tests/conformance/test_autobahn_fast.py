"""The fast sections of Autobahn|Testsuite (1-7, 9 without 9.7/9.8, 10) against the real server.

Uses this folder's runner (:mod:`wstest_runner`, which installs the Python 2.7
fuzzing client into a cache on first use); skipped with the reason when no
Python 2.7 is to be found.  The full run is ``tests/conformance/run_autobahn.sh``
(or ``tox -e autobahn``).
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wstest_runner as runner


@pytest.mark.slow  # hundreds of fuzzing cases against a real server
@pytest.mark.timeout(900)
def test_autobahn_fast_sections() -> None:
    """0 FAILED, 0 UNIMPLEMENTED, nothing missing in the fast sections."""
    try:
        counts, flagged = runner.run(runner.FAST_CASES, runner.FAST_EXCLUDE, timeout=800)
    except runner.SetupError as error:
        pytest.skip(f"autobahn testsuite could not be set up here: {error}")
    tally = runner.summary(counts)
    assert counts["FAILED"] == counts["UNIMPLEMENTED"] == counts["MISSING"] == 0, (tally, flagged)
    assert counts["OK"] > 250, tally
