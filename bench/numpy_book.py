"""The book's two-layer net (chapter 5 layers, NumPy), for the speed comparison.

Same data, same recipe (784-50-10, batch 100, SGD lr 0.1, 10,000 iterations, weights
0.01*N(0,1), float32), and the same batches as typenet: it reads the batch file that
`cargo run --release --example speed -- --write-batches FILE` writes. Prints one JSON line.

    python3 bench/numpy_book.py --data DIR --batches FILE [--repeat N]
"""
import argparse, gzip, json, os, struct, time
import numpy as np


def load_idx(path):
    opener = gzip.open if os.path.exists(path + ".gz") else open
    with opener(path + ".gz" if os.path.exists(path + ".gz") else path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class SoftmaxWithLoss:
    def forward(self, x, t):
        x = x - x.max(axis=1, keepdims=True)
        e = np.exp(x)
        self.y = e / e.sum(axis=1, keepdims=True)
        self.t = t
        lse = np.log(e.sum(axis=1))
        return float(np.mean(lse - x[np.arange(len(t)), t]))

    def backward(self):
        dx = self.y.copy()
        dx[np.arange(len(self.t)), self.t] -= 1
        return dx / len(self.t)


class TwoLayerNet:
    def __init__(self, rng):
        f = np.float32
        self.layers = [
            Affine((0.01 * rng.standard_normal((784, 50))).astype(f), np.zeros(50, f)),
            Relu(),
            Affine((0.01 * rng.standard_normal((50, 10))).astype(f), np.zeros(10, f)),
        ]
        self.last = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def gradient(self, x, t):
        self.last.forward(self.predict(x), t)
        dout = self.last.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--batches", required=True)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    x = load_idx(os.path.join(a.data, "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / np.float32(255)
    t = load_idx(os.path.join(a.data, "train-labels-idx1-ubyte")).astype(np.int64)
    xt = load_idx(os.path.join(a.data, "t10k-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / np.float32(255)
    tt = load_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte")).astype(np.int64)
    batches = np.fromfile(a.batches, dtype="<u4").astype(np.int64).reshape(10_000, 100)
    lr = np.float32(0.1)
    times = []
    for _ in range(a.repeat):
        net = TwoLayerNet(np.random.default_rng(0))
        start = time.perf_counter()
        for idx in batches:
            net.gradient(x[idx], t[idx])
            for layer in (net.layers[0], net.layers[2]):
                layer.W -= lr * layer.dW
                layer.b -= lr * layer.db
        times.append(time.perf_counter() - start)
    acc = float(np.mean(np.argmax(net.predict(xt), axis=1) == tt))
    predict = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(1000):
            np.argmax(net.predict(xt[i:i + 1]))
        predict.append((time.perf_counter() - start) / 1000 * 1e6)
    print(json.dumps({"name": f"NumPy {np.__version__} (book layers)", "train_s": round(sorted(times)[len(times) // 2], 3),
                      "predict_us": round(sorted(predict)[2], 3), "test_acc": round(acc, 4)}))


if __name__ == "__main__":
    main()
