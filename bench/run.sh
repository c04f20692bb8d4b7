#!/usr/bin/env bash
# The speed comparison, one command: typenet, the book's layers in NumPy, and candle train
# the book's network with the book's recipe on the same data and the same batches, one
# thread each; then typenet again on two threads (`typenet::parallel::keep_awake`); then
# one table with medians and ratios to typenet.
#
#   bench/run.sh [DATA_DIR] [REPEAT]
#
# DATA_DIR defaults to the full Fashion-MNIST set if installed (apt-get install
# dataset-fashion-mnist), else the bundled digits. Needs python3 with numpy
# (pip install numpy); candle is built from crates.io the first time (a few minutes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${1:-/usr/share/datasets/fashion-mnist}
[ -d "$data" ] || data=$root/data
repeat=${2:-3}
out=$root/target/bench-compare
mkdir -p "$out"
batches=$out/batches.bin

# One thread everywhere (the two-thread row sets its own).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1

echo "building ..." >&2
cargo build -q --release --example speed --features parallel
cargo build -q --release --manifest-path bench/peers/candle/Cargo.toml

{
    target/release/examples/speed --data "$data" --write-batches "$batches" --batches "$batches" --repeat "$repeat"
    target/release/examples/speed --data "$data" --batches "$batches" --repeat "$repeat" --pixels yes
    RAYON_NUM_THREADS=2 target/release/examples/speed --data "$data" --batches "$batches" --repeat "$repeat" --pixels yes --threads 2
    python3 bench/numpy_book.py --data "$data" --batches "$batches" --repeat "$repeat"
    bench/peers/candle/target/release/typenet-peer-candle --data "$data" --batches "$batches" --repeat "$repeat"
} | tee "$out/results.jsonl"

python3 - "$out/results.jsonl" "$data" <<'PY'
import json, sys, platform, os, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = rows[0]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"\n{datetime.date.today()} · {cpu} · {os.cpu_count()} cores · one thread unless stated · data {sys.argv[2]}")
print("784-50-10, batch 100, SGD lr 0.1, 10,000 iterations, f32, same batches; medians\n")
print(f"| {'implementation':<40} | {'10k iterations':>14} | {'vs typenet':>10} | {'predict, 1 sample':>17} | {'vs typenet':>10} | {'test acc':>8} |")
print(f"| {'-'*40} | {'-'*14}:| {'-'*10}:| {'-'*17}:| {'-'*10}:| {'-'*8}:|")
for r in rows:
    print(f"| {r['name']:<40} | {r['train_s']:>12.2f} s | {r['train_s']/base['train_s']:>9.1f}× | {r['predict_us']:>14.2f} µs | {r['predict_us']/base['predict_us']:>9.1f}× | {r['test_acc']:>8.4f} |")
PY
