#!/bin/sh
# Builds {{name}}.wasm (a WebAssembly component): the WIT's guest types (jco), TypeScript to
# JavaScript (tsc), then a component (ComponentizeJS). Packages come from npm into node_modules.
# wit/ is the WIT it is built against (the world's package, its dependencies under wit/deps/).
set -eu
cd "$(dirname "$0")"
npm install --no-audit --no-fund --loglevel=error
npx jco guest-types wit --world-name '{{world}}' -o types -q
npx tsc -p .
npx componentize-js dist/plugin.js --wit wit --world-name '{{world}}' -o {{name}}.wasm
echo "built {{name}}.wasm"
