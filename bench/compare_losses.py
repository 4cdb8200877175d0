#!/usr/bin/env python3
# Agreement check: kiln and PyTorch train the benchmark models from the same initial
# parameters on the same data in the same order; the loss of every step must agree to
# 1e-4 relative. Exit 0 on agreement (or when torch is absent: skipped), 1 on a mismatch,
# 2 when kiln cannot be run.
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import SPECS, read_safetensors, write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = "linreg,mlp_small,mlp_mnist"


def initial_params(spec, seed):
    """Glorot-uniform weights and small non-zero biases in kiln's layout, as F32 tensors."""
    import numpy as np
    rng = np.random.default_rng(seed)
    tensors = []
    for i, (w, b) in enumerate(spec.param_names()):
        fan_in, fan_out = spec.widths[i], spec.widths[i + 1]
        a = (6.0 / (fan_in + fan_out)) ** 0.5
        wv = rng.uniform(-a, a, size=(fan_in, fan_out)).astype(np.float32)
        bv = rng.uniform(-0.1, 0.1, size=(fan_out,)).astype(np.float32)
        tensors.append((w, "F32", wv.shape, [float(v) for v in wv.ravel()]))
        tensors.append((b, "F32", bv.shape, [float(v) for v in bv.ravel()]))
    return tensors


def run_kiln(kiln, spec, data_dir, init_path, work, engine, threads):
    """Trains one epoch (= every batch once, in file order); returns the step losses and
    the saved params."""
    import gen_data
    log = os.path.join(work, spec.name + ".jsonl")
    final = os.path.join(work, spec.name + ".final.safetensors")
    cmd = [kiln, "train", spec.model_file] + gen_data.kiln_data_args(spec, data_dir) + [
        "--load", init_path, "--no-shuffle", "--epochs", "1", "--log", log, "--log-every", "1",
        "--save", final, "--quiet"]
    if engine:
        cmd += ["--engine", engine]
    if threads:
        cmd += ["--threads", str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print("compare: kiln failed (exit %d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr), file=sys.stderr)
        sys.exit(2)
    losses = []
    with open(log) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("kind") == "step":
                losses.append(rec["loss"])
    _, params = read_safetensors(final)
    return losses, params


def run_torch(spec, data_dir, init, steps, dtype):
    import torch
    import torch_bench
    model, loss_fn, opt = torch_bench.build(spec)
    model.to(dtype)
    opt = type(opt)(model.parameters(), **opt.defaults)  # rebuilt over the converted params
    torch_bench.set_kiln_params(spec, model, {name: (dt, shape, vals) for name, dt, shape, vals in init})
    xt, yt = torch_bench.tensors(spec, data_dir)
    xt = xt.to(dtype)
    if spec.loss != "softmax_ce":
        yt = yt.to(dtype)
    losses = []
    for i in range(steps):
        xb, yb = xt[i * spec.batch:(i + 1) * spec.batch], yt[i * spec.batch:(i + 1) * spec.batch]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    final = {}
    for lin, (w, b) in zip(torch_bench.linears(model), spec.param_names()):
        final[w] = lin.weight.detach().t().contiguous().double().reshape(-1).tolist()
        final[b] = lin.bias.detach().double().reshape(-1).tolist()
    return losses, final


def rel_diff(a, b):
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


def compare(k_losses, t_losses, tol):
    """(worst relative difference, its step, [(step, kiln, torch, difference) over tol])."""
    worst, worst_step, bad = 0.0, 0, []
    for i, (k, t) in enumerate(zip(k_losses, t_losses)):
        d = rel_diff(k, t)
        if d > worst:
            worst, worst_step = d, i + 1
        if d > tol:
            bad.append((i + 1, k, t, d))
    return worst, worst_step, bad


def param_diff(k_params, t_params):
    """Largest |kiln - torch| over all params, relative to the largest |torch value|."""
    num, scale = 0.0, 1e-30
    for pname, vals in t_params.items():
        kv = k_params[pname][2]
        scale = max(scale, max(abs(v) for v in vals))
        num = max(num, max(abs(x - y) for x, y in zip(kv, vals)))
    return num / scale


def main():
    ap = argparse.ArgumentParser(description="kiln vs PyTorch: per-step loss agreement")
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"))
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated (mlp_big is slow on the interpreter)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--tol", type=float, default=1e-4, help="relative tolerance per step loss")
    ap.add_argument("--engine", default="", help="kiln --engine (default: kiln's default)")
    ap.add_argument("--threads", type=int, default=0, help="kiln --threads (default: kiln's default)")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--reference", choices=["f32", "f64", "either"], default="either",
                    help="PyTorch run(s) to compare with: float32, float64, or both (pass if kiln agrees with "
                         "either run on every step; both are reported)")
    ap.add_argument("--keep", default="", help="work in this directory and keep it")
    a = ap.parse_args()

    import torch_bench
    try:
        import numpy  # noqa: F401
        have = torch_bench.import_torch(1)
    except ImportError:
        have = False
    if not have:
        # Debian's python3-torch lives in the system interpreter's dist-packages.
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists(
                "/usr/bin/python3") and not os.environ.get("KILN_BENCH_REEXEC"):
            os.environ["KILN_BENCH_REEXEC"] = "1"
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
        print("skipped: torch not installed")
        return 0
    if not os.access(a.kiln, os.X_OK):
        print("compare: no kiln binary at %s (build it, or pass --kiln)" % a.kiln, file=sys.stderr)
        return 2
    import gen_data
    import torch

    work = a.keep or tempfile.mkdtemp(prefix="kiln-agree-")
    os.makedirs(work, exist_ok=True)
    failed = False
    for name in a.models.split(","):
        if name not in SPECS:
            print("compare: unknown model '%s'" % name, file=sys.stderr)
            return 2
        spec = SPECS[name]
        gen_data.write(spec, work, a.steps * spec.batch, a.seed)
        init = initial_params(spec, a.seed)
        init_path = os.path.join(work, name + ".init.safetensors")
        write_safetensors(init_path, init)
        k_losses, k_params = run_kiln(a.kiln, spec, work, init_path, work, a.engine, a.threads)
        refs = {}
        for ref in (["f32", "f64"] if a.reference == "either" else [a.reference]):
            refs[ref] = run_torch(spec, work, init, a.steps, torch.float32 if ref == "f32" else torch.float64)
        if len(k_losses) != a.steps:
            print("%s: kiln logged %d steps, expected %d" % (name, len(k_losses), a.steps))
            failed = True
            continue
        verdicts = {ref: compare(k_losses, t_losses, a.tol) for ref, (t_losses, _) in refs.items()}
        passed = [ref for ref, v in verdicts.items() if not v[2]]
        print("%-10s %s: %d steps, kiln loss %.6g -> %.6g" % (
            name, ("ok (against PyTorch %s)" % " and ".join(passed)) if passed else "MISMATCH", a.steps,
            k_losses[0], k_losses[-1]))
        for ref, (t_losses, t_params) in refs.items():
            worst, worst_step, bad = verdicts[ref]
            print("    PyTorch %s: loss %.6g -> %.6g; worst relative difference %.2e at step %d (tol %.0e); "
                  "final params max difference %.2e of the largest"
                  % (ref, t_losses[0], t_losses[-1], worst, worst_step, a.tol, param_diff(k_params, t_params)))
            for step, k, t, d in bad[:3]:
                print("        step %d: kiln %.9g, PyTorch %s %.9g (relative %.2e)" % (step, k, ref, t, d))
        if len(refs) == 2:
            floor = max(rel_diff(x, y) for x, y in zip(refs["f32"][0], refs["f64"][0]))
            print("    PyTorch f32 vs f64 (its own rounding noise): worst relative difference %.2e" % floor)
        failed = failed or not passed
    if not a.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
