#!/usr/bin/env bash
# The embedded check, from scratch: train on the host, export the weights and the host's
# scores, build the firmware (the `no_panic` link is the proof that inference cannot
# panic), run every firmware binary on QEMU's mps2-an386 (exit status = pass/fail), and
# report flash/RAM sizes and instruction counts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
elf=target/thumbv7em-none-eabihf/release

cd "$root"
cargo run --release --example train -- --out target/firmware-train | tail -n 2
cargo run --release --example firmware_assets -- \
    --weights target/firmware-train/weights.bin --out "$here/assets"

cd "$here"
cargo clippy --release -- -D warnings
cargo build --release
for bin in digits xor_train user_layer no_panic; do
    echo "--- $bin on mps2-an386 (Cortex-M4F)"
    ./qemu-run.sh "$elf/$bin"
done

echo "--- sizes, opt-level 3 (arm-none-eabi-size -A)"
for bin in digits no_panic; do
    arm-none-eabi-size -A "$elf/$bin" | grep -E '^(\.vector_table|\.text|\.rodata|\.data|\.bss|\.uninit) ' | sed "s/^/$bin /"
done
echo "--- opt-level \"s\""
CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_TARGET_DIR=target/opt-s cargo build --release
for bin in digits no_panic; do
    arm-none-eabi-size -A "target/opt-s/thumbv7em-none-eabihf/release/$bin" | grep -E '^(\.text|\.rodata) ' | sed "s/^/$bin (s) /"
done
./qemu-run.sh target/opt-s/thumbv7em-none-eabihf/release/digits | tail -n 3
