#!/usr/bin/env python3
# Writes seeded synthetic data for the benchmark models as NPY files (one per input:
# DIR/<model>/x.npy and DIR/<model>/<label>.npy), and optionally CSV; not committed.
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ORDER, SPECS, die  # noqa: E402

try:
    import numpy as np
except ImportError:
    np = None


def need_numpy():
    if np is None:
        die("numpy is needed (apt-get install python3-numpy; run with /usr/bin/python3)")


def make_data(spec, rows, seed):
    """x ~ N(0, 1); targets that a model of this kind can learn (so the loss moves)."""
    need_numpy()
    rng = np.random.default_rng(seed)
    n_in, n_out = spec.widths[0], spec.widths[-1]
    x = rng.standard_normal((rows, n_in), dtype=np.float32)
    proj = rng.standard_normal((n_in, n_out)).astype(np.float32) / np.sqrt(n_in)
    z = x @ proj
    if spec.loss == "mse":
        y = (z + 0.1 * rng.standard_normal(z.shape)).astype(np.float32)
    elif spec.loss == "bce_with_logits":
        y = (z > 0).astype(np.float32)
    elif spec.loss == "softmax_ce":
        y = np.argmax(z, axis=1).astype(np.int32)
    else:
        raise ValueError(spec.loss)
    return x, y


def write(spec, out_dir, rows, seed, csv=False):
    x, y = make_data(spec, rows, seed)
    d = os.path.join(out_dir, spec.name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, spec.label_input + ".npy"), y)
    if csv:
        cols = ["x%d" % i for i in range(x.shape[1])]
        yy = y.reshape(rows, -1)
        cols += [spec.label_input] if yy.shape[1] == 1 else ["%s%d" % (spec.label_input, i) for i in range(yy.shape[1])]
        fmt = ["%.9g"] * x.shape[1] + (["%d"] if y.dtype == np.int32 else ["%.9g"] * yy.shape[1])
        np.savetxt(os.path.join(d, "data.csv"), np.hstack([x.astype(np.float64), yy.astype(np.float64)]),
                   delimiter=",", header=",".join(cols), comments="", fmt=fmt)
    return d


def kiln_data_args(spec, data_dir):
    """The --data flags for `kiln train`."""
    d = os.path.join(data_dir, spec.name)
    return ["--data", "x=" + os.path.join(d, "x.npy"),
            "--data", "%s=%s" % (spec.label_input, os.path.join(d, spec.label_input + ".npy"))]


def load(spec, data_dir):
    need_numpy()
    d = os.path.join(data_dir, spec.name)
    return np.load(os.path.join(d, "x.npy")), np.load(os.path.join(d, spec.label_input + ".npy"))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="directory to write into")
    ap.add_argument("--models", default=",".join(ORDER))
    ap.add_argument("--steps", type=int, default=100, help="rows = steps * the model's batch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--csv", action="store_true", help="also write data.csv")
    a = ap.parse_args()
    for name in a.models.split(","):
        if name not in SPECS:
            die("unknown model '%s' (known: %s)" % (name, ", ".join(ORDER)))
        spec = SPECS[name]
        d = write(spec, a.out, a.steps * spec.batch, a.seed, a.csv)
        print("wrote %s (%d rows)" % (d, a.steps * spec.batch))


if __name__ == "__main__":
    main()
