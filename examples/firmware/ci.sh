#!/usr/bin/env bash
# The embedded check, from scratch: train on the host, export the networks (f32 and int8)
# and the host's outputs, build the firmware (the `no_panic` link is the proof that
# inference cannot panic), run every firmware binary on QEMU's mps2-an386 (exit status =
# pass/fail), check that the int8 binaries are integer-only on a Cortex-M0, and report
# flash/RAM sizes and instruction counts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
elf=target/thumbv7em-none-eabihf/release
m0=target/thumbv6m-none-eabi/release

cd "$root"
cargo run --release --example train -- --out target/firmware-train | tail -n 2
cargo run --release --example firmware_assets -- \
    --weights target/firmware-train/weights.bin --out "$here/assets" | grep -E '^(accuracy|wrote)'

cd "$here"
cargo clippy --release -- -D warnings
cargo build --release
for bin in digits xor_train user_layer mlp_int8 convnet convnet_int8 no_panic; do
    echo "--- $bin on mps2-an386 (Cortex-M4F)"
    log="target/$bin.log"
    ./qemu-run.sh "$elf/$bin" >"$log" || { cat "$log"; exit 1; }
    grep -vE '^digit [0-9]' "$log" || true # the per-digit lines are in the log
done

echo "--- integer only: built for thumbv6m (Cortex-M0, no FPU), the int8 binaries link no floating-point routine"
cargo build --release --target thumbv6m-none-eabi --bin mlp_int8 --bin convnet_int8 --bin convnet
soft_float='__aeabi_(f|d|[fdi]2|ui2|l2)[a-z0-9]*|__(add|sub|mul|div|cmp|eq|lt|gt|le|ge|ne|un)[sd]f[23]|__float|__fix|__extendsfdf2|__truncdfsf2'
for bin in mlp_int8 convnet_int8; do
    if arm-none-eabi-nm "$m0/$bin" | grep -E " ($soft_float)\$"; then
        echo "$bin links floating-point routines (above)"
        exit 1
    fi
    echo "$bin: no floating-point routine"
done
# The check can fail: the f32 CNN built the same way needs them.
arm-none-eabi-nm "$m0/convnet" | grep -qE " ($soft_float)\$" ||
    { echo "the soft-float check finds nothing in the f32 CNN either: it checks nothing"; exit 1; }

echo "--- sizes, opt-level 3 (arm-none-eabi-size -A)"
for bin in digits mlp_int8 convnet convnet_int8 no_panic; do
    arm-none-eabi-size -A "$elf/$bin" | grep -E '^(\.vector_table|\.text|\.rodata|\.data|\.bss|\.uninit) ' | sed "s/^/$bin /"
done
echo "--- opt-level \"s\""
CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_TARGET_DIR=target/opt-s cargo build --release
for bin in digits mlp_int8 convnet convnet_int8 no_panic; do
    arm-none-eabi-size -A "target/opt-s/thumbv7em-none-eabihf/release/$bin" | grep -E '^(\.text|\.rodata) ' | sed "s/^/$bin (s) /"
done
for bin in digits mlp_int8 convnet convnet_int8; do
    ./qemu-run.sh "target/opt-s/thumbv7em-none-eabihf/release/$bin" | tail -n 3
done
