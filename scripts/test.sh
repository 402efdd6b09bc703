#!/usr/bin/env bash
# weft's whole test suite, from a fresh machine: installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Toolchain pieces the checks use.
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== format"
cargo fmt --all -- --check
echo "== lint"
cargo clippy --workspace --all-targets -- -D warnings
echo "== tests"
cargo test --workspace
bash scripts/test-arm.sh
bash scripts/test-ffi.sh
bash scripts/test-gpu.sh
