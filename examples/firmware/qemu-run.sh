#!/bin/sh
# Cargo runner: runs an ELF on QEMU's mps2-an386 board (Cortex-M4 with FPU).
# - semihosting: the firmware's output reaches stdout and its exit status becomes QEMU's
# - icount shift=0: one guest instruction per virtual nanosecond, so SysTick counts instructions
# - timeout: a HardFault or a hang ends as a failure (exit 124) instead of blocking CI
ELF="$1"; shift
exec timeout --foreground "${QEMU_TIMEOUT:-120}" \
  qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
  -semihosting-config enable=on,target=native -icount shift=0 \
  -kernel "$ELF" "$@"
