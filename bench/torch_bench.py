#!/usr/bin/env python3
# Times a normal PyTorch CPU training step (zero_grad, forward, loss, backward,
# optimizer.step) for the benchmark models; prints one JSON line per model.
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ORDER, SPECS, die  # noqa: E402
import gen_data  # noqa: E402

torch = None


def import_torch(threads):
    """Imports torch with OpenBLAS and OpenMP limited to `threads` (Debian's torch does its
    matrix products in OpenBLAS, whose pool is sized from the environment at load time).
    Returns False when torch is not installed."""
    global torch
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch as t
    except ImportError:
        return False
    torch = t
    torch.set_num_threads(threads)
    return True


def build(spec):
    """nn.Sequential of nn.Linear layers with the hidden activation, the loss function and
    the optimizer, as a PyTorch user would write them."""
    nn = torch.nn
    mods = []
    for i in range(spec.layers):
        mods.append(nn.Linear(spec.widths[i], spec.widths[i + 1]))
        if i + 1 < spec.layers:
            mods.append(nn.Sigmoid() if spec.act == "sigmoid" else nn.ReLU())
    model = nn.Sequential(*mods)
    loss_fn = {"mse": nn.MSELoss(), "bce_with_logits": nn.BCEWithLogitsLoss(),
               "softmax_ce": nn.CrossEntropyLoss()}[spec.loss]
    if spec.opt == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=spec.lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=spec.lr, betas=(0.9, 0.999), eps=1e-8)
    return model, loss_fn, opt


def linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def set_kiln_params(spec, model, params):
    """Copies kiln-layout params ({name: (dtype, shape, flat values)}; w is [in, out]) into
    the nn.Linear layers (weight is [out, in])."""
    with torch.no_grad():
        for lin, (w, b) in zip(linears(model), spec.param_names()):
            _, wshape, wvals = params[w]
            _, bshape, bvals = params[b]
            lin.weight.copy_(torch.tensor(wvals, dtype=torch.float64).reshape(wshape).t())
            lin.bias.copy_(torch.tensor(bvals, dtype=torch.float64).reshape(bshape))


def tensors(spec, data_dir):
    x, y = gen_data.load(spec, data_dir)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y).long() if spec.loss == "softmax_ce" else torch.from_numpy(y).reshape(len(y), -1)
    return xt, yt


def make_step(model, loss_fn, opt):
    def step(xb, yb):
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss
    return step


def bench(spec, data_dir, threads, warmup, steps, repeats):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, loss_fn, opt = build(spec)
    step = make_step(model, loss_fn, opt)
    xt, yt = tensors(spec, data_dir)
    nb = xt.shape[0] // spec.batch
    if nb < 1:
        die("%s: %d rows are fewer than one batch of %d" % (spec.name, xt.shape[0], spec.batch))
    k = [0]

    def next_batch():
        i = k[0] % nb
        k[0] += 1
        return xt[i * spec.batch:(i + 1) * spec.batch], yt[i * spec.batch:(i + 1) * spec.batch]

    for _ in range(warmup):
        step(*next_batch())
    per_step = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step(*next_batch())
        loss.item()
        per_step.append((time.perf_counter() - t0) / steps)
    med = statistics.median(per_step)
    return {"model": spec.name, "engine": "torch", "torch": torch.__version__, "threads": threads,
            "batch": spec.batch, "step_s": med, "step_s_all": per_step,
            "gflops": spec.flops_per_step() / med / 1e9, "final_loss": float(loss.item())}


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU per-step training time of the benchmark models")
    ap.add_argument("--data", required=True, help="directory written by gen_data.py")
    ap.add_argument("--models", default=",".join(ORDER))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    ap.add_argument("--steps", default="200", help="steps per timed run, or name=N,... per model")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs; the median is reported")
    a = ap.parse_args()
    if not import_torch(a.threads):
        die("PyTorch is not installed (apt-get install python3-torch)")
    per_model = {}
    default_steps = None
    for part in a.steps.split(","):
        if "=" in part:
            n, v = part.split("=", 1)
            per_model[n] = int(v)
        else:
            default_steps = int(part)
    for name in a.models.split(","):
        if name not in SPECS:
            die("unknown model '%s'" % name)
        steps = per_model.get(name, default_steps or 200)
        warm = min(a.warmup, max(2, steps))
        r = bench(SPECS[name], a.data, a.threads, warm, steps, a.repeats)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
