#!/bin/sh
# Builds the plugin into dist/plugin.js (executable): robodev's TypeScript SDK packed and
# installed with npm, then tsc. ROBODEV_SDK: robodev's sdk/ directory (default: the one
# `robodev plugin new` was run from).
set -eu
cd "$(dirname "$0")"
SDK="${ROBODEV_SDK:-{{sdk}}}"
mkdir -p .sdk
(cd "$SDK/typescript" && npm ci --no-audit --no-fund --loglevel=error >&2 \
  && npm pack --no-audit --no-fund --loglevel=error --pack-destination "$OLDPWD/.sdk" >/dev/null)
npm install --no-audit --no-fund --loglevel=error ./.sdk/robodev-plugin-sdk-*.tgz
npm install --no-audit --no-fund --loglevel=error
npm run --silent build
echo "built dist/plugin.js"
