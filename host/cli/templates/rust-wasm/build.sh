#!/bin/sh
# Builds {{name}}.wasm (a WebAssembly component) and runs the unit tests natively.
set -eu
cd "$(dirname "$0")"
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "adding the wasm32-wasip2 target (once)"
  rustup target add wasm32-wasip2
fi
cargo test --quiet
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{module}}.wasm" {{name}}.wasm
echo "built {{name}}.wasm"
