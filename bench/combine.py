#!/usr/bin/env python3
# Combines several `run_bench.py --json` files (whole repeated benchmark rounds) into one
# table of per-figure medians, plus each round's speedups, to show the spread.
import json
import statistics
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ORDER  # noqa: E402
import run_bench  # noqa: E402


def main(paths):
    if not paths:
        print("usage: combine.py results1.json results2.json ...", file=sys.stderr)
        return 2
    rounds = [json.load(open(p)) for p in paths]
    engine = rounds[0]["engine"]
    combined = {}
    for name in ORDER:
        rs = [r["results"][name] for r in rounds if name in r["results"]]
        if not rs:
            continue
        c = {}
        for key in ("torch_s", "kiln_s", "ceiling", "torch_gflops", "monitor_on_s", "monitor_off_s"):
            vals = [r[key] for r in rs if key in r]
            if vals:
                c[key] = statistics.median(vals)
        for key in ("monitor_on_runs", "monitor_off_runs"):  # every run of every round
            runs = [x for r in rs for x in r.get(key, [])]
            if runs:
                c[key] = runs
        configs = sorted({r.get("torch_config", "?") for r in rs if "torch_config" in r})
        c["torch_config"] = "/".join(configs)
        if "kiln_s" not in c:
            c["kiln_note"] = rs[0].get("kiln_note", "pending")
        combined[name] = c
    print("medians over %d rounds (%s)" % (len(rounds), ", ".join(paths)))
    print(run_bench.table(combined, engine))
    print()
    print("| model | " + " | ".join("round %d" % (i + 1) for i in range(len(rounds))) + " |")
    print("|---|" + "---:|" * len(rounds))
    for name in combined:
        cells = []
        for r in rounds:
            x = r["results"].get(name, {})
            if "torch_s" in x and "kiln_s" in x:
                cells.append("%.2fx (load %.1f)" % (x["torch_s"] / x["kiln_s"], r["machine"]["loadavg_before"][0]))
            else:
                cells.append("—")
        print("| %s | %s |" % (name, " | ".join(cells)))
    if any("monitor_on_s" in c for c in combined.values()):
        print()
        print(run_bench.monitor_table(combined))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
