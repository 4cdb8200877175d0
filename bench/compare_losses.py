#!/usr/bin/env python3
# The multi-step smoke test of the agreement check: kiln and PyTorch train the smooth
# benchmark models for 20 steps from the same initial parameters on the same data in order.
# A free run carries every step's f32 rounding into the next, so the tolerance of step k
# comes from PyTorch's own float32-vs-float64 spread up to step k (bench/README.md); the
# one-step check (one_step.py) is the precise one.
# Exit 0 on agreement, 1 on a mismatch, 2 when kiln cannot be run, 3 torch/numpy missing.
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import SPECS, initial_params, read_safetensors, write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The smoke test's models are the smooth ones: linreg (linear, SGD) and mlp_small (sigmoid).
# mlp_mnist's relus make its free run chaotic: a gate that opens in one run and not in the
# other (PyTorch's own float32 and float64 runs differ by up to 2.8e-4 on 3 of 11 seeds),
# so its 20 steps prove little either way; one_step.py compares it step by step.
DEFAULT_MODELS = "linreg,mlp_small"


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


U32 = 2.0 ** -24
KAPPA = 10.0  # kiln's f32 run may stray from the f64 one up to KAPPA times PyTorch's f32 run


def tolerances(t32, t64, batch):
    """Per step: KAPPA times the largest relative f32-vs-f64 difference of PyTorch's own runs
    up to that step, and at least KAPPA u sqrt(batch) (the rounding of a mean of `batch`
    f32 terms, for the first steps, where the two runs may agree by chance)."""
    out, spread = [], 0.0
    for a, b in zip(t32, t64):
        spread = max(spread, rel_diff(a, b))
        out.append(KAPPA * max(spread, U32 * batch ** 0.5))
    return out


def compare(k_losses, t_losses, tols):
    """(worst difference / tolerance, its step, [(step, kiln, torch, difference, tolerance) over it])."""
    worst, worst_step, bad = 0.0, 0, []
    for i, (k, t, tol) in enumerate(zip(k_losses, t_losses, tols)):
        d = rel_diff(k, t)
        if d / tol > worst:
            worst, worst_step = d / tol, i + 1
        if d > tol:
            bad.append((i + 1, k, t, d, tol))
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
    ap = argparse.ArgumentParser(description="kiln vs PyTorch: 20 free-running steps (a smoke test)")
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"))
    ap.add_argument("--models", default=DEFAULT_MODELS,
                    help="comma-separated (mlp_mnist is chaotic, mlp_big slow in float64: see the top of this file)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--engine", default="", help="kiln --engine (default: kiln's default)")
    ap.add_argument("--threads", type=int, default=0, help="kiln --threads (default: kiln's default)")
    ap.add_argument("--seed", type=int, default=123)
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
        print("compare: torch or numpy is not installed (python3-torch, python3-numpy)")
        return 3
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
        t32, p32 = run_torch(spec, work, init, a.steps, torch.float32)
        t64, p64 = run_torch(spec, work, init, a.steps, torch.float64)
        if len(k_losses) != a.steps:
            print("%s: kiln logged %d steps, expected %d" % (name, len(k_losses), a.steps))
            failed = True
            continue
        tols = tolerances(t32, t64, spec.batch)
        worst, worst_step, bad = compare(k_losses, t64, tols)
        print("%-10s %s: %d steps, kiln loss %.6g -> %.6g (PyTorch f64 %.6g -> %.6g)" % (
            name, "ok" if not bad else "MISMATCH", a.steps, k_losses[0], k_losses[-1], t64[0], t64[-1]))
        print("    kiln vs PyTorch f64: worst relative difference %.2e (step %d: %.2f of its tolerance %.1e); "
              "final params max difference %.2e of the largest"
              % (max(rel_diff(k, t) for k, t in zip(k_losses, t64)), worst_step, worst, tols[worst_step - 1],
                 param_diff(k_params, p64)))
        print("    kiln vs PyTorch f32: worst relative difference %.2e; PyTorch f32 vs f64 (the spread): %.2e at "
              "step 1, %.2e at most" % (max(rel_diff(k, t) for k, t in zip(k_losses, t32)), rel_diff(t32[0], t64[0]),
                                        max(rel_diff(x, y) for x, y in zip(t32, t64))))
        for step, k, t, d, tol in bad[:3]:
            print("        step %d: kiln %.9g, PyTorch f64 %.9g (relative %.2e > %.2e)" % (step, k, t, d, tol))
        failed = failed or bool(bad)
    if not a.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
