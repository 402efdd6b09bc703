#!/usr/bin/env bash
# Host-app front door tests (ffi/, tests/c/, ffi/java/, android/): builds libweft_ffi, runs the C
# API test against the shared and the static library (both under valgrind), the Java binding's
# host test on this JVM, and the Android-target build of the Rust side. Installs what it needs
# (valgrind, a JDK, the rustup target) on a fresh machine; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
work="$target_dir/ffi-test"
lib="$target_dir/debug"
mkdir -p "$work"

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
need() { # need <command> <debian package>
    command -v "$1" >/dev/null 2>&1 && return
    [ -n "$apt_updated" ] || { sudo_if_needed apt-get update -qq; apt_updated=1; }
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need cc gcc
need valgrind valgrind
need javac openjdk-17-jdk-headless

echo "== ffi: lint the JNI entry points (feature jni, which the workspace lint leaves off)"
cargo clippy -q -p weft-ffi --features jni --all-targets -- -D warnings
echo "== ffi: build libweft_ffi (shared + static, with the JNI entry points)"
cargo build -p weft-ffi --features jni
echo "== ffi: fixture model + expected tokens from the Rust API"
cargo run -q -p weft-ffi --features jni --example ffi_fixture -- "$work" >/dev/null

echo "== ffi: C API test (tests/c)"
cflags=(-std=c11 -Wall -Wextra -Werror -g -Iffi/include)
cc "${cflags[@]}" tests/c/*.c -o "$work/weft_test_shared" \
    -L"$lib" -lweft_ffi -Wl,-rpath,"$(cd "$lib" && pwd)" -lpthread -lm
# Native libraries Rust's std needs in a static link (rustc --print native-static-libs).
cc "${cflags[@]}" tests/c/*.c -o "$work/weft_test_static" \
    "$lib/libweft_ffi.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
valgrind_args=(--error-exitcode=1 --leak-check=full --num-callers=50 -q
    --suppressions=tests/c/valgrind.supp)
for kind in shared static; do
    echo "-- $kind library, under valgrind"
    valgrind "${valgrind_args[@]}" "$work/weft_test_$kind" "$work"
done

echo "== ffi: C example (examples/c) on the bundled demo model"
cc "${cflags[@]}" examples/c/generate.c -o "$work/generate" \
    -L"$lib" -lweft_ffi -Wl,-rpath,"$(cd "$lib" && pwd)"
"$work/generate" models/demo-text.gguf "And God said" 16

echo "== ffi: Java binding host test (ffi/java, JNI)"
rm -rf "$work/java" && mkdir -p "$work/java"
javac -Xlint:all -Werror -d "$work/java" ffi/java/src/main/java/dev/weft/*.java \
    ffi/java/src/test/java/dev/weft/*.java
java -Xcheck:jni -Dweft.library="$(cd "$lib" && pwd)/libweft_ffi.so" -cp "$work/java" \
    dev.weft.WeftTest "$work"

echo "== ffi: Android target (aarch64-linux-android): static library with the JNI entry points"
# A full compile of the crate and its dependencies for the phone target, so it also covers
# `cargo check --target aarch64-linux-android -p weft-ffi --features jni`. Linking the .so
# needs the NDK (android/README.md).
rustup target list --installed | grep -qx aarch64-linux-android ||
    rustup target add aarch64-linux-android
cargo rustc -q -p weft-ffi --lib --target aarch64-linux-android --features jni --crate-type staticlib
ls -l "$target_dir/aarch64-linux-android/debug/libweft_ffi.a"
