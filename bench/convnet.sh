#!/usr/bin/env bash
# SimpleConvNet, one thread: typenet against PyTorch eager on the same batches (batch 100,
# Adam, f32), then one table of medians and ratios to typenet.
#
#   bench/convnet.sh [DATA_DIR] [STEPS] [REPEAT]
#
# DATA_DIR defaults to the bundled digits. Needs python3 with torch and numpy
# (pip install torch numpy).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${1:-$root/data}
steps=${2:-200}
repeat=${3:-3}
out=$root/target/bench-compare
mkdir -p "$out"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

cargo build -q --release --example speed_convnet
{
    target/release/examples/speed_convnet --data "$data" --steps "$steps" --repeat "$repeat"
    python3 bench/torch_convnet.py --data "$data" --steps "$steps" --repeat "$repeat"
} | tee "$out/convnet.jsonl"

python3 - "$out/convnet.jsonl" <<'PY'
import json, sys, os, datetime, platform
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = rows[0]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"\n{datetime.date.today()} · {cpu} · one thread · SimpleConvNet, batch 100, Adam, f32, {base['steps']} steps; medians\n")
print(f"| {'implementation':<28} | {'training step':>13} | {'vs typenet':>10} | {'predict, 1 sample':>17} | {'vs typenet':>10} |")
print(f"| {'-'*28} | {'-'*13}:| {'-'*10}:| {'-'*17}:| {'-'*10}:|")
for r in rows:
    print(f"| {r['name']:<28} | {r['step_ms']:>10.2f} ms | {r['step_ms']/base['step_ms']:>9.1f}× | {r['predict_us']:>14.1f} µs | {r['predict_us']/base['predict_us']:>9.1f}× |")
PY
