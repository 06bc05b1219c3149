#!/usr/bin/env bash
# Build the Rust spike node (nice'd, one job, private target dir, locked deps).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE/rs"
CARGO_TARGET_DIR="$HERE/target" nice -n 19 cargo build -j 1 --release --locked
