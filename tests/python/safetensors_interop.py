"""typenet's weights open with the Python `safetensors` package and NumPy, and give the same
scores as typenet itself.

    python3 tests/python/safetensors_interop.py WEIGHTS.safetensors ASSETS_DIR

WEIGHTS.safetensors is what `cargo run --release --example train` writes; ASSETS_DIR holds
`digits.bin` and `expected.bin` written by `cargo run --release --example firmware_assets`
from the same run (digits, and the scores typenet computed for them). Exits non-zero on any
mismatch. `.ci/run` runs it after the firmware check.
"""
import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

path, assets = sys.argv[1], sys.argv[2]
tensors = load_file(path)
expected_shapes = {"affine1.W": (784, 50), "affine1.b": (50,), "affine2.W": (50, 10), "affine2.b": (10,)}
assert {k: v.shape for k, v in tensors.items()} == expected_shapes, {k: v.shape for k, v in tensors.items()}
assert all(v.dtype == np.float32 for v in tensors.values())
with safe_open(path, "numpy") as f:
    meta = f.metadata()
assert meta["network"] == "TwoLayerNet" and meta["layers"].startswith("Affine<784, 50>"), meta

x = np.fromfile(f"{assets}/digits.bin", dtype="<f4").reshape(-1, 784)
want = np.fromfile(f"{assets}/expected.bin", dtype="<f4").reshape(-1, 10)
h = np.maximum(x @ tensors["affine1.W"] + tensors["affine1.b"], 0)
scores = h @ tensors["affine2.W"] + tensors["affine2.b"]
diff = float(np.abs(scores - want).max())
assert (scores.argmax(1) == want.argmax(1)).all(), (scores.argmax(1), want.argmax(1))
assert diff < 1e-4, diff
print(f"safetensors + NumPy: {len(x)} digits, same classes as typenet, max |score difference| {diff:.2e}")
