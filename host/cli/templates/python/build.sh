#!/bin/sh
# Builds the plugin into .venv/bin/{{name}}: a venv with robodev's Python SDK and this package.
# ROBODEV_SDK: robodev's sdk/ directory (default: the one `robodev plugin new` was run from).
set -eu
cd "$(dirname "$0")"
SDK="${ROBODEV_SDK:-{{sdk}}}"
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "$SDK/python" .
echo "built .venv/bin/{{name}}"
