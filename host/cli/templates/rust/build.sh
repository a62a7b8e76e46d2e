#!/bin/sh
# Builds the plugin executable ./{{name}} (a go-plugin gRPC plugin) with Cargo.
set -eu
cd "$(dirname "$0")"
cargo build --release
cp "${CARGO_TARGET_DIR:-target}/release/{{name}}" {{name}}
echo "built ./{{name}}"
