#!/bin/sh
# Builds {{name}}.wasm (a WebAssembly component) from app.py with componentize-py, installed
# into .venv from PyPI. wit/ is the WIT it is built against, laid out as componentize-py wants
# (the world's package, its dependencies under wit/deps/).
set -eu
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python3 ]; then
  echo "creating .venv (once)"
  python3 -m venv .venv
fi
.venv/bin/python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/componentize-py -d wit -w '{{world}}' componentize app -o {{name}}.wasm
echo "built {{name}}.wasm"
