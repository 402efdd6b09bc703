#!/usr/bin/env bash
# GPU tests on lavapipe (Mesa's software Vulkan), from a fresh machine: installs the driver if it
# is missing, then runs the GPU op tests and the GPU backend tests with WEFT_REQUIRE_GPU=1, which
# turns "no adapter" into a failure instead of a skip. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
export WEFT_REQUIRE_GPU=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# Only lavapipe: the hardware ICDs Mesa installs next to it fail without their hardware.
VK_DRIVER_FILES="$(ls /usr/share/vulkan/icd.d/lvp_icd*.json | head -n1)"
export VK_DRIVER_FILES

echo "== lint (gpu)"
cargo clippy --workspace --all-targets --features weft-kernels/gpu,weft/gpu,weft-gpu-bench/gpu,weft-cli/gpu -- -D warnings
echo "== GPU tests (lavapipe)"
cargo test -p weft-kernels --features gpu --test 'gpu_*'
cargo test -p weft --features gpu --lib backend::gpu
cargo test -p weft-cli --features gpu --test parity_gpu -- --nocapture
cargo test -p weft-cli --features gpu --test chat gpu_
