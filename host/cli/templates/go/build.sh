#!/bin/sh
# Builds the plugin executable ./{{name}} with Go 1.25+ (modules from the Go module proxy).
set -eu
cd "$(dirname "$0")"
go mod tidy
go build -o {{name}} .
echo "built ./{{name}}"
