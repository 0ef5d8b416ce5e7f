#!/usr/bin/env bash
# Run the Autobahn|Testsuite fuzzing client against this checkout's daphne.
#
#   tests/conformance/run_autobahn.sh                                # every case (1-10, 12, 13)
#   tests/conformance/run_autobahn.sh '1.*,2.*' --exclude '9.7.*'    # some sections
#
# A wrapper around tests/conformance/wstest_runner.py (see its docstring); DAPHNE_PYTHON
# picks the interpreter that runs the server and this script (default: .venv/bin/python).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${DAPHNE_PYTHON:-$repo/.venv/bin/python}
exec "$python" "$here/wstest_runner.py" "$@"
