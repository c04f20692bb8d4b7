"""PyTorch's side of the SimpleConvNet speed comparison (run it through bench/convnet.sh).

The book's SimpleConvNet in PyTorch eager mode, one thread: Conv2d(1, 30, 5), ReLU,
MaxPool2d(2), Linear(4320, 100), ReLU, Linear(100, 10); weights 0.01·N(0, 1), biases zero;
Adam, learning rate 0.001; batch k is training samples 100·k .. (wrapping), as typenet's
`speed_convnet` example takes them. Times the training steps and single-sample prediction
(under `torch.inference_mode`), prints one JSON line with the medians of --repeat runs.
"""
import argparse, gzip, json, os, struct, time

import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument("--data", default="data")
p.add_argument("--steps", type=int, default=200)
p.add_argument("--repeat", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(1)


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic, = struct.unpack(">I", f.read(4))
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def find(stem):
    for name in (stem + "-ubyte.gz", stem + "-ubyte"):
        if os.path.exists(os.path.join(a.data, name)):
            return os.path.join(a.data, name)
    raise SystemExit(f"{a.data}: no {stem}")


x = torch.from_numpy(idx(find("train-images-idx3")).astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
t = torch.from_numpy(idx(find("train-labels-idx1")).astype(np.int64))
batches = len(x) // 100


def net():
    m = torch.nn.Sequential(
        torch.nn.Conv2d(1, 30, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(4320, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in m:
            if hasattr(layer, "weight"):
                layer.weight.normal_(0.0, 0.01, generator=g)
                layer.bias.zero_()
    return m


step_ms, loss = [], 0.0
for _ in range(a.repeat):
    m = net()
    opt = torch.optim.Adam(m.parameters(), lr=0.001)
    start = time.perf_counter()
    for k in range(a.steps):
        at = (k % batches) * 100
        out = torch.nn.functional.cross_entropy(m(x[at:at + 100]), t[at:at + 100])
        opt.zero_grad()
        out.backward()
        opt.step()
        loss = out.item()
    step_ms.append((time.perf_counter() - start) * 1e3 / a.steps)

m = net()
predict_us = []
with torch.inference_mode():
    for _ in range(a.repeat):
        n = 2000
        start = time.perf_counter()
        for i in range(n):
            m(x[i:i + 1])
        predict_us.append((time.perf_counter() - start) * 1e6 / n)

print(json.dumps({"name": f"PyTorch {torch.__version__} eager", "step_ms": round(float(np.median(step_ms)), 3),
                  "predict_us": round(float(np.median(predict_us)), 2), "steps": a.steps, "last_loss": round(loss, 4)}))
