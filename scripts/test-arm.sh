#!/usr/bin/env bash
# weft-kernels tests for aarch64 under qemu-user: once on a CPU with dotprod (`max`: the NEON +
# SDOT path) and once on one without (Cortex-A72: the plain NEON path). Each run asserts which
# path it dispatched to (WEFT_EXPECT_PATH, checked by the kernels' dispatch tests). Installs what
# it needs (rustup target, cross gcc, qemu-user) if missing; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
fi
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
for cpu_path in "max:neon-dotprod" "cortex-a72:neon"; do
    cpu=${cpu_path%%:*}
    path=${cpu_path#*:}
    echo "== aarch64 kernels tests, qemu -cpu $cpu (expects path $path)"
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu $cpu"
    WEFT_EXPECT_PATH=$path cargo test -q -p weft-kernels --target "$TARGET"
done
