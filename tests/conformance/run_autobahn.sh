#!/usr/bin/env bash
# Run the Autobahn|Testsuite fuzzingclient against this repository's daphne.
#
#   tests/conformance/run_autobahn.sh            # every case (sections 1-10, 12, 13)
#   tests/conformance/run_autobahn.sh '1.*,2.*'  # some sections
#
# Uses ../shared/conformance/autobahn.sh (it builds its own Python 2.7 wstest
# environment) and the echo app there; message and frame limits are raised to
# 32 MiB as the big-message cases need.  Extra arguments go to autobahn.sh
# (e.g. --exclude '9.7.*,9.8.*').
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
script=${AUTOBAHN_SH:-$repo/../shared/conformance/autobahn.sh}
[ -x "$script" ] || { echo "run_autobahn: $script not found" >&2; exit 2; }
cases=${1:-*}
shift || true
python=${DAPHNE_PYTHON:-$repo/.venv/bin/python}
exec "$script" --cases "$cases" --agent daphne "$@" \
    "$python -m daphne -v 0 -b {host} -p {port} --websocket-max-message-size 33554432 --websocket-max-frame-size 33554432 {app}"
