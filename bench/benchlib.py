# Shared pieces of the kiln benchmark harness: the four benchmark models (mirroring
# bench/models/*.model), a dependency-free safetensors reader/writer, and FLOP counts.
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.join(HERE, "models")


class Spec:
    """One benchmark model. `widths` are the layer widths (input first); `act` the hidden
    activation; `loss` one of mse, bce_with_logits, softmax_ce; `opt` sgd or adam with `lr`.
    The .model file in bench/models/<name>.model must describe exactly this network."""

    def __init__(self, name, widths, act, loss, opt, lr, batch, label_input):
        self.name = name
        self.widths = widths
        self.act = act
        self.loss = loss
        self.opt = opt
        self.lr = lr
        self.batch = batch
        self.label_input = label_input  # name of the target input in the .model file

    @property
    def model_file(self):
        return os.path.join(MODELS_DIR, self.name + ".model")

    @property
    def layers(self):
        return len(self.widths) - 1

    def param_names(self):
        """kiln's param names, in declaration order: (weight, bias) per layer."""
        if self.layers == 1:
            return [("w", "b")]
        return [("w%d" % (i + 1), "b%d" % (i + 1)) for i in range(self.layers)]

    def param_shapes(self):
        """kiln's layout: w is [in, out] (x @ w + b), b is [out]."""
        out = {}
        for i, (w, b) in enumerate(self.param_names()):
            out[w] = (self.widths[i], self.widths[i + 1])
            out[b] = (self.widths[i + 1],)
        return out

    def label_width(self):
        """Columns of the target input: 1 for a regression/binary target or class index."""
        if self.loss == "softmax_ce":
            return 1
        return self.widths[-1]

    def flops_per_step(self):
        """Matrix-product FLOPs of one training step (2*m*n*k per product): every layer's
        forward product and weight gradient, and the input gradient of every layer but the
        first (the data needs none). Elementwise work and the optimizer are not counted."""
        total = 0
        for i in range(self.layers):
            mnk = self.batch * self.widths[i] * self.widths[i + 1]
            total += 2 * mnk * (3 if i > 0 else 2)
        return total


SPECS = {
    "linreg": Spec("linreg", [10, 1], None, "mse", "sgd", 0.01, 32, "y"),
    "mlp_small": Spec("mlp_small", [10, 128, 64, 1], "sigmoid", "bce_with_logits", "adam", 0.001, 64, "y"),
    "mlp_mnist": Spec("mlp_mnist", [784, 512, 512, 10], "relu", "softmax_ce", "adam", 0.001, 128, "labels"),
    "mlp_big": Spec("mlp_big", [1024, 4096, 4096, 1024], "relu", "mse", "sgd", 0.001, 256, "y"),
}
ORDER = ["linreg", "mlp_small", "mlp_mnist", "mlp_big"]

# The row-major sgemm calls (m, n, k, transA, transB) of one training step: the forward
# product x @ w, the weight gradient x^T @ g and the input gradient g @ w^T per layer.
def sgemm_shapes(spec):
    shapes = []
    b = spec.batch
    for i in range(spec.layers):
        fan_in, fan_out = spec.widths[i], spec.widths[i + 1]
        shapes.append((b, fan_out, fan_in, "N", "N"))      # forward
        shapes.append((fan_in, fan_out, b, "T", "N"))      # weight gradient
        if i > 0:
            shapes.append((b, fan_in, fan_out, "N", "T"))  # input gradient
    return shapes


# ---- safetensors (8-byte LE header length, JSON header, raw little-endian data) ----

_DTYPES = {"F32": ("f", 4), "F64": ("d", 8), "I32": ("i", 4), "I64": ("q", 8)}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype, shape, flat list of numbers) with dtype in _DTYPES.
    Writes the compact layout kiln writes: header padded with spaces to a multiple of 8."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, dtype, shape, values in tensors:
        code, size = _DTYPES[dtype]
        count = 1
        for d in shape:
            count *= d
        if len(values) != count:
            raise ValueError("tensor %s: %d values for shape %s" % (name, len(values), list(shape)))
        blob = struct.pack("<%d%s" % (count, code), *values)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns (metadata dict, {name: (dtype, shape, flat list)})."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError("%s: header length %d is larger than the file" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        code, size = _DTYPES[t["dtype"]]
        lo, hi = t["data_offsets"]
        count = (hi - lo) // size
        out[name] = (t["dtype"], tuple(t["shape"]), list(struct.unpack("<%d%s" % (count, code), data[lo:hi])))
    return meta, out


def read_safetensors_np(path, with_metadata=False):
    """Returns {name: numpy array (float64 for F32/F64, int64 for I32/I64), shaped} (and the
    metadata dict with `with_metadata`); needs numpy. For large files (the one-step check's
    outputs): no Python list per tensor."""
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = memoryview(raw)[8 + n:]
    kinds = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8"}
    out = {}
    for name, t in header.items():
        lo, hi = t["data_offsets"]
        a = np.frombuffer(data[lo:hi], dtype=kinds[t["dtype"]]).reshape(t["shape"])
        out[name] = a.astype(np.float64 if t["dtype"][0] == "F" else np.int64)
    return (out, meta) if with_metadata else out


def initial_params(spec, seed):
    """Glorot-uniform weights and small non-zero biases in kiln's layout, as F32 tensors
    (list of (name, "F32", shape, flat values)); needs numpy."""
    import numpy as np
    rng = np.random.default_rng(seed)
    tensors = []
    for i, (w, b) in enumerate(spec.param_names()):
        fan_in, fan_out = spec.widths[i], spec.widths[i + 1]
        a = (6.0 / (fan_in + fan_out)) ** 0.5
        wv = rng.uniform(-a, a, size=(fan_in, fan_out)).astype(np.float32)
        bv = rng.uniform(-0.1, 0.1, size=(fan_out,)).astype(np.float32)
        tensors.append((w, "F32", wv.shape, wv.ravel().tolist()))
        tensors.append((b, "F32", bv.shape, bv.ravel().tolist()))
    return tensors


def die(msg, code=2):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(code)
