"""The h2spec cases (``h2_conformance.py``) against the real server, cleartext and TLS.

Each transport gets its own ``daphne`` process (``apps.functional:app``, which
answers GET/HEAD/POST on ``/``); all 146 cases run once per transport, in
process and a few at a time, and every case is then one test here, so a
failure is reported by its h2spec id.  Standalone, against any server::

    python tests/conformance/h2_conformance.py --host 127.0.0.1 --port N [--tls]
"""

from __future__ import annotations

import os

import pytest
import trustme
from conformance import h2_conformance as h2c
from integration.processes import DaphneCommand

#: Cases the server fails today, per transport, with why.  Each one is an
#: ``xfail(strict=True)``: once the server is fixed its test XPASSes, which
#: fails the run, so remove the entry then.
KNOWN_FAILURES: dict[str, dict[str, str]] = {
    "cleartext": {},
    "tls": {},
}

# slow: h2spec's cases against a real server (`pytest -m "not slow"` leaves it out).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
APP = "apps.functional:app"
TRANSPORTS = ("cleartext", "tls")
#: Frames are awaited this long (h2spec's default); only failing cases ever wait it out.
FRAME_TIMEOUT = 2.0
#: Cases run at once: each has its own connection, and a regression that makes
#: cases wait for timeouts should not make the suite crawl.
JOBS = 8


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, dict[str, h2c.Result]]:
    """Every case's result, per transport (one server per transport, one run each)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("h2-conformance-tls")
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    endpoint = f"ssl:0:interface=127.0.0.1:privateKey={key_path}:certKey={cert_path}"
    commands = {
        "cleartext": ["-p", "0", "--access-log", os.devnull, APP],
        "tls": ["-e", endpoint, "--access-log", os.devnull, APP],
    }
    outcome: dict[str, dict[str, h2c.Result]] = {}
    for transport in TRANSPORTS:
        with DaphneCommand(commands[transport]).start(wait_for="Listening on") as daphne:
            assert daphne.port is not None, daphne.output()
            config = h2c.Config(
                "127.0.0.1", daphne.port, tls=transport == "tls", timeout=FRAME_TIMEOUT
            )
            run = h2c.run_cases(config, jobs=JOBS)
            assert daphne.process is not None and daphne.process.poll() is None, (
                f"the {transport} server died during the run:\n{daphne.output()[-3000:]}"
            )
        outcome[transport] = {result.case_id: result for result in run}
    return outcome


def _params() -> list:
    params = []
    for transport in TRANSPORTS:
        for case in h2c.select_cases():
            reason = KNOWN_FAILURES[transport].get(case.case_id)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(
                pytest.param(transport, case.case_id, marks=marks, id=f"{transport}:{case.case_id}")
            )
    return params


@pytest.mark.parametrize(("transport", "case_id"), _params())
def test_h2spec_case(results, transport: str, case_id: str) -> None:
    """One h2spec case: the server behaves as h2spec requires."""
    result = results[transport][case_id]
    if result.status == "SKIP":
        pytest.skip(result.detail)
    assert result.status == "PASS", result.line()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_all_cases_ran(results, transport: str) -> None:
    """All 146 h2spec cases ran; the summary lists every failure by id."""
    run = list(results[transport].values())
    assert len(run) == 146
    unexpected = [
        result.line()
        for result in run
        if result.status == "FAIL" and result.case_id not in KNOWN_FAILURES[transport]
    ]
    assert not unexpected, h2c.summary(run) + "\n" + "\n".join(unexpected)


def test_known_failures_are_cases() -> None:
    """Every id in KNOWN_FAILURES names a case (a typo would hide nothing)."""
    ids = {case.case_id for case in h2c.select_cases()}
    assert set(KNOWN_FAILURES) == set(TRANSPORTS)
    for transport, failures in KNOWN_FAILURES.items():
        assert set(failures) <= ids, transport
