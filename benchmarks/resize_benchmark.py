"""What a resize costs: in place vs a forced retrace, and search vs fixed training.

Two parts, each configuration in its own process (oneDNN off, as in
`criteo_scale.py`):

1. **Latency** at the 39 fields of full Criteo with their real vocabulary
   sizes (`../shared/data/criteo_scale/vocab_sizes.json`, 33.76M rows),
   search model with LazyAdam, after a few traced steps. Timed: one
   in-place `apply_resize` growing one field (the largest, the median and
   the smallest vocabulary), growing 5 mid-size fields at once, and
   growing all 39 at once; then the first train step after it, against
   the steady step, and the transient memory: peak RSS during the resize
   above the RSS after it (small tables are below the allocator's noise).
   For comparison, the retrace the previous engine paid after every
   resize: `make_train_function(force=True)` and the first step after it,
   minus a steady step.
2. **Search overhead** on the Frappe split (`../shared/data/splits/frappe`):
   a DimGrow search for `--epochs` epochs (library defaults, no early
   stop) against a plain fixed-width model at the widths the search ended
   with, same data, batch and epochs. Whole-run examples/s ratio, best of
   `--repeats` interleaved runs of each.

Usage:
    .venv/bin/python benchmarks/resize_benchmark.py
Writes `benchmarks/results/resize_benchmark.{json,md}`.
"""

import argparse
import json
import os
import platform
import time

from bench_utils import MMAP_THRESHOLD
from bench_utils import reset_peak
from bench_utils import spawn
from bench_utils import status

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
VOCAB_FILE = os.path.join(SHARED, "criteo_scale", "vocab_sizes.json")
FRAPPE = os.path.join(SHARED, "splits", "frappe")


def latency_child(args):
    import keras
    import numpy as np

    import dimgrow_tf as dg
    from dimgrow_tf.data.synthetic_stream import synthetic_stream

    with open(VOCAB_FILE) as fh:
        spec = json.load(fh)
    sizes = dict(zip(spec["fields"], spec["vocab_sizes"]))
    weights = {k: 0.25 * d for k, d in spec["reference_final_dims"].items()}
    data = iter(synthetic_stream(sizes, weights, args.batch_size, seed=0).repeat())
    keras.utils.set_random_seed(0)
    fields = [dg.FieldConfig(n, v) for n, v in sizes.items()]
    model, emb = dg.build_search_model(fields, alpha=0.02, seed=0)
    model.compile(optimizer=dg.LazyAdam(1e-3), loss="binary_crossentropy")
    search = dg.DimGrowCallback(emb, dg.SearchConfig(check_every=10**9, monitor="loss"))
    search.set_model(model)
    search.on_train_begin()
    model.make_train_function()

    def step():
        start = time.perf_counter()
        model.train_function(data)  # a tf.data iterator, as in `fit`
        return time.perf_counter() - start

    for _ in range(5):
        step()
    steady = float(np.median([step() for _ in range(10)]))
    by_size = sorted(sizes, key=sizes.get)
    cases = {
        "grow largest field": [by_size[-1]],
        "grow median field": [by_size[len(by_size) // 2]],
        "grow smallest field": [by_size[0]],
        "grow 5 mid-size fields": by_size[17:22],
        "grow all 39 fields": by_size,
    }
    rows = []
    for label, names in cases.items():
        plan = {n: dg.FieldResize.grow_by(emb.dims[n]) for n in names}
        largest_new = max(sizes[n] * (emb.dims[n] + 1) * 4 for n in names)
        before = status("VmRSS")
        reset_peak()
        start = time.perf_counter()
        dg.apply_resize(model, emb, plan)
        resize = time.perf_counter() - start
        transient = status("VmHWM") - max(before, status("VmRSS"))
        first = step()
        rows.append({"case": label, "resize_s": resize, "first_step_s": first,
                     "first_step_over_steady_s": first - steady,
                     "transient_mib": transient / 2**20,
                     "largest_new_table_mib": largest_new / 2**20})
        print(json.dumps(rows[-1]), flush=True)
    traces = emb.trace_counts["train"]
    retraces = []
    for _ in range(2):
        start = time.perf_counter()
        model.make_train_function(force=True)
        first = step()
        retraces.append(time.perf_counter() - start - steady)
    out = {
        "rows": sum(sizes.values()),
        "steady_step_s": steady,
        "cases": rows,
        "traces_during_in_place_cases": traces,
        "forced_retrace_s": retraces,
        "total_dims_after": emb.total_dims,
    }
    print("RESULT " + json.dumps(out), flush=True)


def overhead_child(args):
    import keras

    import dimgrow_tf as dg
    from dimgrow_tf.data.datasets import load_split_dir
    from dimgrow_tf.data.datasets import to_dataset

    fields, splits = load_split_dir(FRAPPE)
    train = to_dataset(*splits["train"], args.frappe_batch, shuffle=True, seed=0)
    valid = to_dataset(*splits["valid"], args.frappe_batch)
    keras.utils.set_random_seed(0)
    if args.config == "search":
        model, emb = dg.build_search_model(fields, alpha=0.02, seed=0)
        model.compile(optimizer=dg.LazyAdam(1e-3), loss="binary_crossentropy",
                      metrics=[keras.metrics.AUC(name="auc")])
        callbacks = [dg.DimGrowCallback(emb)]
    else:
        dims = json.loads(args.dims)
        model = dg.build_model([f.with_dim(max(1, dims[f.name])) for f in fields])
        model.compile(optimizer=dg.LazyAdam(1e-3), loss="binary_crossentropy",
                      metrics=[keras.metrics.AUC(name="auc")])
        callbacks = []
    start = time.perf_counter()
    model.fit(train, validation_data=valid, epochs=args.epochs, verbose=0,
              callbacks=callbacks)
    seconds = time.perf_counter() - start
    out = {"config": args.config, "seconds": seconds,
           "examples_per_s": args.epochs * len(splits["train"][1]) / seconds}
    if args.config == "search":
        out["widths"] = emb.dims
        out["resizing_checks"] = len({e["step"] for e in callbacks[0].history})
        out["train_traces"] = emb.trace_counts["train"]
    print("RESULT " + json.dumps(out), flush=True)


def parent(args):
    out = {"args": vars(args)}
    if os.path.exists(VOCAB_FILE):
        out["latency"] = spawn(__file__, ["--child", "latency", "--batch-size", str(args.batch_size)])
    if os.path.isdir(FRAPPE):
        common = ["--epochs", str(args.epochs), "--frappe-batch", str(args.frappe_batch)]
        searches, fixeds = [], []
        for _ in range(args.repeats):  # interleaved; the machine is shared and noisy
            searches.append(spawn(__file__, ["--child", "overhead", "--config", "search", *common]))
            fixeds.append(spawn(__file__, ["--child", "overhead", "--config", "fixed",
                                           "--dims", json.dumps(searches[0]["widths"]), *common]))
        search = min(searches, key=lambda r: r["seconds"])
        fixed = min(fixeds, key=lambda r: r["seconds"])
        out["frappe"] = {"search": search, "fixed": fixed,
                         "search_seconds_all": [r["seconds"] for r in searches],
                         "fixed_seconds_all": [r["seconds"] for r in fixeds],
                         "throughput_ratio": search["examples_per_s"] / fixed["examples_per_s"]}
    if len(out) == 1:
        raise SystemExit("../shared/data is absent: nothing to measure.")
    write_report(out)


def write_report(out):
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    base = os.path.join(HERE, "results", "resize_benchmark")
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores; TF_ENABLE_ONEDNN_OPTS=0, "
             f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', MMAP_THRESHOLD)}.", ""]
    lat = out.get("latency")
    if lat:
        retrace = min(lat["forced_retrace_s"])
        lat["speedup_vs_retrace"] = {c["case"]: retrace / c["resize_s"] for c in lat["cases"]}
        lines += [
            f"### Resize latency, 39 Criteo fields, {lat['rows']:,} rows, LazyAdam, "
            f"batch {out['args']['batch_size']}",
            "",
            f"Steady step {1000 * lat['steady_step_s']:.0f} ms. One forced retrace (what every "
            f"resize cost before): {retrace:.2f} s. Train-step traces during all in-place cases: "
            f"{lat['traces_during_in_place_cases']}.",
            "",
            "| case | in-place resize (s) | first step after − steady (s) | retrace / resize | "
            "transient above the final RSS (MiB) | largest new table (MiB) |",
            "|---|---|---|---|---|---|",
        ]
        for c in lat["cases"]:
            lines.append(f"| {c['case']} | {c['resize_s']:.3f} | {c['first_step_over_steady_s']:+.3f} | "
                         f"{lat['speedup_vs_retrace'][c['case']]:.0f}× | "
                         f"{c['transient_mib']:.0f} | {c['largest_new_table_mib']:.1f} |")
        lines.append("")
    fr = out.get("frappe")
    if fr:
        s, f = fr["search"], fr["fixed"]
        lines += [
            f"### Search vs fixed-width training, Frappe, {out['args']['epochs']} epochs, "
            f"batch {out['args']['frappe_batch']}",
            "",
            "| run | wall (s) | examples/s | widths | resizing checks | train traces |",
            "|---|---|---|---|---|---|",
            f"| DimGrow search | {s['seconds']:.1f} | {s['examples_per_s']:,.0f} | "
            f"{sum(s['widths'].values())} | {s['resizing_checks']} | {s['train_traces']} |",
            f"| fixed at the search's widths | {f['seconds']:.1f} | {f['examples_per_s']:,.0f} | "
            f"{sum(s['widths'].values())} | — | — |",
            "",
            f"Whole-run throughput ratio search / fixed (best of {len(fr['search_seconds_all'])} "
            f"interleaved runs each; all walls in s: search "
            f"{[round(t, 1) for t in fr['search_seconds_all']]}, fixed "
            f"{[round(t, 1) for t in fr['fixed_seconds_all']]}): **{fr['throughput_ratio']:.2f}**.",
        ]
    with open(base + ".json", "w") as fh:
        json.dump(out, fh, indent=1)
    with open(base + ".md", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("latency", "overhead"))
    parser.add_argument("--config", choices=("search", "fixed"))
    parser.add_argument("--dims", default=None)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--frappe-batch", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.child == "latency":
        latency_child(args)
    elif args.child == "overhead":
        overhead_child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
