#!/usr/bin/env python3
# Runs the benchmark: kiln's and PyTorch's per-step training time for the four models and
# OpenBLAS's sgemm ceiling, at one thread count; prints a Markdown table of the ratios and
# writes every raw figure as JSON. Called by bench/run.sh (which installs and builds first).
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ORDER, SPECS, sgemm_shapes  # noqa: E402
import gen_data  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# Steps per epoch (kiln) and per timed run (PyTorch), chosen for ~0.1-2 s runs.
STEPS = {"linreg": 1000, "mlp_small": 300, "mlp_mnist": 40, "mlp_big": 4}
# Targets (issue 4): speedup = torch time / kiln time.
TARGETS = {"linreg": (5.0, ">= 5x faster"), "mlp_small": (5.0, ">= 5x faster"),
           "mlp_mnist": (1 / 1.5, "no slower than 1.5x"), "mlp_big": (None, "GFLOP/s vs OpenBLAS")}


def kiln_time(kiln, spec, data_dir, engine, threads, epochs, runs, work, extra=()):
    """Median per-step time: each run's median over epochs 2..E of (epoch time_s / steps),
    from the metrics log; then the median over the runs. Returns (seconds, runs' figures)
    or (None, error message). `extra`: more `kiln train` flags (e.g. --no-monitor)."""
    per_run = []
    log = os.path.join(work, spec.name + ".kiln.jsonl")
    for _ in range(runs):
        cmd = [kiln, "train", spec.model_file] + gen_data.kiln_data_args(spec, data_dir) + [
            "--epochs", str(epochs), "--no-shuffle", "--log", log, "--quiet", "--threads", str(threads),
            "--engine", engine] + list(extra)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            msg = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
            return None, msg
        recs = [json.loads(line) for line in open(log) if line.strip()]
        ep = [r for r in recs if r.get("kind") == "epoch"]
        steps_per_epoch = ep[0]["step"]
        times = [r["time_s"] / steps_per_epoch for r in ep[1:]] or [ep[0]["time_s"] / steps_per_epoch]
        per_run.append(statistics.median(times))
    return statistics.median(per_run), per_run


# PyTorch's OpenMP pool spins after each parallel region by default; on a 2-core machine
# that spinning competes with OpenBLAS's own threads (and with any other process), which
# can slow a step down many times. Both settings are timed; the faster one is reported.
TORCH_CONFIGS = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}}


# The monitor-overhead driver's epochs and pairs per model (each epoch STEPS steps; the
# first epoch of a run is warm-up): ~0.3-3 s per run.
MONITOR_EPOCHS = {"linreg": 30, "mlp_small": 30, "mlp_mnist": 10, "mlp_big": 4}
MONITOR_PAIRS = {"linreg": 41, "mlp_small": 21, "mlp_mnist": 5, "mlp_big": 3}


def monitor_overhead(kiln, spec, data_dir, engine, threads, epochs, runs, work, driver=""):
    """The run-time monitors' share of kiln's step time: pairs of runs with monitors (the
    default) and without (--no-monitor), alternating so that a change in the machine's load
    hits both; per-step medians of each. With `driver` (kiln_monitor_bench, built from
    bench/monitor_overhead.cpp) the pairs run in one process through the trainer's own loop
    (MONITOR_EPOCHS/MONITOR_PAIRS); else `runs` pairs of `kiln train` processes of `epochs`
    epochs. Returns ((with_s, without_s, with_runs, without_runs), None) or (None, message)."""
    on, off = [], []
    if driver:
        cmd = [driver, spec.model_file] + gen_data.kiln_data_args(spec, data_dir) + [
            "--epochs", str(MONITOR_EPOCHS[spec.name]), "--pairs", str(MONITOR_PAIRS[spec.name]),
            "--threads", str(threads), "--engine", engine]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return None, (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        r = json.loads(p.stdout)
        on, off = r["on_s"], r["off_s"]
    else:
        for _ in range(runs):
            for extra, out in (((), on), (("--no-monitor",), off)):
                t, err = kiln_time(kiln, spec, data_dir, engine, threads, epochs, 1, work, extra)
                if t is None:
                    return None, err
                out.append(t)
    return (statistics.median(on), statistics.median(off), on, off), None


def monitor_table(results):
    """Medians of each side, and (where the runs are known) the fastest run of each side:
    run-to-run swings of small models (e.g. 50 vs 60 us, from where buffers land in memory)
    hit either side at random, and the fastest runs compare the code's own costs."""
    lines = ["| model | kiln ms/step, monitors on | kiln ms/step, --no-monitor | monitor overhead | fastest runs: on / off | "
             "overhead (fastest) | median of the pairs' overheads | target |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name in ORDER:
        r = results.get(name, {})
        if "monitor_on_s" not in r:
            continue
        on, off = r["monitor_on_s"], r["monitor_off_s"]
        over = on / off - 1
        fast, fast_over, pairs = "—", "—", "—"
        best = over
        if r.get("monitor_on_runs") and r.get("monitor_off_runs"):
            a, b = min(r["monitor_on_runs"]), min(r["monitor_off_runs"])
            fast, fast_over = "%s / %s" % (fmt_ms(a), fmt_ms(b)), "%+.1f%%" % (100 * (a / b - 1))
            best = a / b - 1
            ratios = [x / y - 1 for x, y in zip(r["monitor_on_runs"], r["monitor_off_runs"])]
            pairs = "%+.1f%%" % (100 * statistics.median(ratios))
        lines.append("| %s | %s | %s | %+.1f%% | %s | %s | %s | <= 5%%: %s |" % (
            name, fmt_ms(on), fmt_ms(off), 100 * over, fast, fast_over, pairs,
            "met" if max(over, best) <= 0.05 else ("met by the fastest runs" if best <= 0.05 else "not met")))
    return "\n".join(lines)


def torch_times(py, data_dir, models, threads, repeats, config):
    steps = ",".join("%s=%d" % (m, STEPS[m]) for m in models)
    cmd = [py, os.path.join(HERE, "torch_bench.py"), "--data", data_dir, "--models", ",".join(models),
           "--threads", str(threads), "--steps", steps, "--repeats", str(repeats)]
    env = dict(os.environ)
    env.update(TORCH_CONFIGS[config])
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {}, p.stderr.strip()
    out = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        out[r["model"]] = r
    return out, ""


def sgemm_ceiling(binary, spec, threads, repeats):
    """Effective OpenBLAS rate over the step's products: total FLOPs / sum of their times."""
    shapes = sgemm_shapes(spec)
    args = ["%dx%dx%d:%s%s" % s for s in shapes]
    p = subprocess.run([binary, str(threads), str(repeats)] + args, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    total_flops = total_s = 0.0
    rows = []
    for line in p.stdout.splitlines():
        m, n, k, ta, tb, sec, gf = line.split()
        f = 2.0 * int(m) * int(n) * int(k)
        total_flops += f
        total_s += float(sec)
        rows.append({"m": int(m), "n": int(n), "k": int(k), "trans": ta + tb, "s": float(sec), "gflops": float(gf)})
    return {"gflops": total_flops / total_s / 1e9, "gemm_s": total_s, "calls": rows}, ""


def machine_info():
    info = {"python": platform.python_version()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "L2 cache",
                               "L3 cache", "Flags"):
                val = val.strip()
                if key.strip() == "Flags":
                    val = " ".join(f for f in val.split() if f.startswith("avx") or f == "fma")
                info[key.strip()] = val
    except OSError:
        pass
    return info


def fmt_ms(s):
    return "%.3g" % (s * 1e3) if s < 1e-4 else "%.4f" % (s * 1e3) if s < 0.01 else "%.2f" % (s * 1e3)


def table(results, engine):
    lines = ["| model | batch | MFLOP/step | PyTorch ms/step | kiln (%s) ms/step | speedup (PyTorch/kiln) | target | met | "
             "PyTorch GFLOP/s | kiln GFLOP/s | OpenBLAS sgemm GFLOP/s (ceiling) |" % engine,
             "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|"]
    for name in ORDER:
        if name not in results:
            continue
        r = results[name]
        spec = SPECS[name]
        t = r.get("torch_s")
        k = r.get("kiln_s")
        target, target_text = TARGETS[name]
        speed = "%.2fx" % (t / k) if t and k else "—"
        if k is None:
            met = "pending"
        elif target is None:
            met = "%.0f%% of ceiling" % (100 * spec.flops_per_step() / k / 1e9 / r["ceiling"]) if r.get("ceiling") else "—"
        elif t is None:
            met = "—"
        else:
            met = "yes" if t / k >= target else "no"
        kcol = fmt_ms(k) if k is not None else r.get("kiln_note", "pending")
        lines.append("| %s | %d | %.3f | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, spec.batch, spec.flops_per_step() / 1e6,
            "%s (%s)" % (fmt_ms(t), r["torch_config"]) if t else "—", kcol, speed, target_text, met,
            "%.2f" % r["torch_gflops"] if t else "—",
            "%.2f" % (spec.flops_per_step() / k / 1e9) if k else "—",
            "%.1f" % r["ceiling"] if r.get("ceiling") else "—"))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description="kiln vs PyTorch per-step training time")
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"))
    ap.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable,
                    help="interpreter with torch (Debian's python3-torch)")
    ap.add_argument("--sgemm", default="", help="the sgemm_ceiling binary")
    ap.add_argument("--models", default=",".join(ORDER))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engine", default="jit")
    ap.add_argument("--epochs", type=int, default=6, help="kiln epochs per run (the first is warm-up)")
    ap.add_argument("--runs", type=int, default=3, help="kiln runs per model (median)")
    ap.add_argument("--repeats", type=int, default=7, help="PyTorch timed runs per model (median)")
    ap.add_argument("--data", default="", help="data directory (default: a fresh temporary one)")
    ap.add_argument("--json", default="", help="write every figure here")
    ap.add_argument("--skip-kiln", action="store_true")
    ap.add_argument("--skip-torch", action="store_true", help="kiln only (no PyTorch, no speedups)")
    ap.add_argument("--monitor-overhead", action="store_true",
                    help="also time kiln with --no-monitor (alternating runs) and report the monitors' share")
    ap.add_argument("--monitor-bench", default="",
                    help="the kiln_monitor_bench binary: run --monitor-overhead's pairs in one process "
                         "(else as kiln train processes)")
    ap.add_argument("--torch-configs", default="default,passive",
                    help="PyTorch thread settings to time (default: OpenMP as is; passive: OMP_WAIT_POLICY=PASSIVE); "
                         "the fastest is reported")
    a = ap.parse_args()
    models = a.models.split(",")
    for m in models:
        if m not in SPECS:
            print("bench: unknown model '%s'" % m, file=sys.stderr)
            return 2

    work = tempfile.mkdtemp(prefix="kiln-bench-")
    data = a.data or os.path.join(work, "data")
    for m in models:
        if not os.path.exists(os.path.join(data, m, "x.npy")):
            gen_data.write(SPECS[m], data, STEPS[m] * SPECS[m].batch, 0)

    load_before = os.getloadavg()
    results = {m: {} for m in models}
    for config in a.torch_configs.split(","):
        if config not in TORCH_CONFIGS:
            print("bench: unknown PyTorch config '%s' (known: %s)" % (config, ", ".join(TORCH_CONFIGS)), file=sys.stderr)
            return 2
    # One model at a time, PyTorch then OpenBLAS then kiln, so that a change in the
    # machine's load between models does not skew one side of a ratio only.
    for m in models:
        for config in ([] if a.skip_torch else a.torch_configs.split(",")):
            tt, err = torch_times(a.python, data, [m], a.threads, a.repeats, config)
            if err:
                print("bench: PyTorch timing (%s) failed: %s" % (config, err), file=sys.stderr)
            for _, r in tt.items():
                results[m].setdefault("torch_by_config", {})[config] = {"step_s": r["step_s"],
                                                                        "step_s_all": r["step_s_all"]}
                if "torch_s" not in results[m] or r["step_s"] < results[m]["torch_s"]:
                    results[m]["torch_s"] = r["step_s"]
                    results[m]["torch_config"] = config
                    results[m]["torch_gflops"] = r["gflops"]
                    results[m]["torch_version"] = r["torch"]
        if a.sgemm:
            c, err = sgemm_ceiling(a.sgemm, SPECS[m], a.threads, a.repeats)
            if c:
                results[m]["ceiling"] = c["gflops"]
                results[m]["ceiling_calls"] = c["calls"]
            else:
                print("bench: sgemm_ceiling failed: %s" % err, file=sys.stderr)
        if a.skip_kiln:
            results[m]["kiln_note"] = "not run"
            continue
        if not os.access(a.kiln, os.X_OK):
            results[m]["kiln_note"] = "pending (no kiln binary)"
            continue
        s_, extra = kiln_time(a.kiln, SPECS[m], data, a.engine, a.threads, a.epochs, a.runs, work)
        if s_ is None:
            note = "pending (JIT not landed)" if "not available" in extra else "failed"
            results[m]["kiln_note"] = note
            print("bench: kiln %s: %s" % (m, extra), file=sys.stderr)
        else:
            results[m]["kiln_s"] = s_
            results[m]["kiln_s_runs"] = extra
        if a.monitor_overhead and s_ is not None:
            pair, err = monitor_overhead(a.kiln, SPECS[m], data, a.engine, a.threads, a.epochs, a.runs, work,
                                         a.monitor_bench)
            if pair:
                (results[m]["monitor_on_s"], results[m]["monitor_off_s"], results[m]["monitor_on_runs"],
                 results[m]["monitor_off_runs"]) = pair
            else:
                print("bench: kiln %s --no-monitor: %s" % (m, err), file=sys.stderr)
    info = machine_info()
    info["loadavg_before"] = list(load_before)
    info["loadavg_after"] = list(os.getloadavg())
    print("machine: %s, %s CPUs (%s); %d threads; kiln engine %s; 1-min load average %.2f before, %.2f after "
          "(other processes skew the timings)" % (
              info.get("Model name", "?"), info.get("CPU(s)", "?"), info.get("Flags", ""), a.threads, a.engine,
              load_before[0], info["loadavg_after"][0]))
    print(table(results, a.engine))
    if a.monitor_overhead:
        print()
        print(monitor_table(results))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "threads": a.threads, "engine": a.engine, "steps": STEPS,
                       "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
