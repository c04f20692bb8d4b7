"""Writes what the PyTorch-import test reads: a SimpleConvNet trained for a few steps in
PyTorch (eager, float32, one thread), its state_dict as safetensors, and its scores on the
first 64 bundled test digits.

    python3 tests/python/pytorch_export.py OUT_DIR

OUT_DIR/model.safetensors holds the state_dict (conv1.weight [30, 1, 5, 5], conv1.bias,
fc1.weight [100, 4320], fc1.bias, fc2.weight [10, 100], fc2.bias); OUT_DIR/expected.safetensors
holds x [64, 1, 28, 28] and scores [64, 10]. The test is
`TYPENET_PYTORCH_EXPORT=OUT_DIR cargo test --release --test suite -- --ignored pytorch`.
"""
import gzip, os, struct, sys

import numpy as np
import torch
from safetensors.torch import save_file

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
root = os.path.join(os.path.dirname(__file__), "..", "..", "data")
torch.set_num_threads(1)
torch.manual_seed(0)


def idx(name):
    with gzip.open(os.path.join(root, name), "rb") as f:
        magic, = struct.unpack(">I", f.read(4))
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


class SimpleConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 30, 5)
        self.fc1 = torch.nn.Linear(4320, 100)
        self.fc2 = torch.nn.Linear(100, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


x = torch.from_numpy(idx("train-images-idx3-ubyte.gz")[:2000].astype(np.float32) / 255).reshape(-1, 1, 28, 28)
t = torch.from_numpy(idx("train-labels-idx1-ubyte.gz")[:2000].astype(np.int64))
model = SimpleConvNet()
opt = torch.optim.Adam(model.parameters(), lr=0.001)
for k in range(20):
    loss = torch.nn.functional.cross_entropy(model(x[k * 100:(k + 1) * 100]), t[k * 100:(k + 1) * 100])
    opt.zero_grad()
    loss.backward()
    opt.step()

test = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz")[:64].astype(np.float32) / 255).reshape(-1, 1, 28, 28)
with torch.no_grad():
    scores = model(test)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out, "model.safetensors"))
save_file({"x": test.contiguous(), "scores": scores.contiguous()}, os.path.join(out, "expected.safetensors"))
print(f"{out}: state_dict of {len(model.state_dict())} tensors, scores of {len(test)} test digits")
