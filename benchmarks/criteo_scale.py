"""Training memory and throughput at full-Criteo vocabulary scale.

Synthetic ids at the real per-field vocabulary sizes of full Criteo
(`../shared/data/criteo_scale/vocab_sizes.json`: 33.76M rows, 39 fields),
log-uniform (Zipf-like) frequencies, labels from a planted model whose
per-field signal weights follow the reference's final dims on Criteo (fields
it dropped are noise). Each configuration runs in its own process for the
same steps and batch, all with `LazyAdam` (row-sparse updates):

- `dimgrow`: DimGrow search from width 1;
- `supernet`: every field at 16 with the same per-dimension ShuffleGates
  (the SuperNet / `prune_shuffle_dim` baseline), never resized;
- `uniform16`: plain fixed width 16, no gates;
- `floor`: plain fixed model at the widths DimGrow ended with.

Reported per configuration: peak RSS above the post-import baseline
(`VmHWM` after resetting it), analytic bytes of tables + optimizer slots,
steady-state training examples/s, and the widths reached. A second part
times one training step of a plain model against vocabulary size (100k to
33.8M rows) with LazyAdam and with dense Adam.

Usage:
    .venv/bin/python benchmarks/criteo_scale.py --steps 600 --batch-size 2048
Writes `benchmarks/results/full_scale_memory.{json,md,png}`.
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
VOCAB_FILE = os.path.join(HERE, "..", "..", "shared", "data", "criteo_scale", "vocab_sizes.json")


def _load_vocab(scale_rows=None):
    with open(VOCAB_FILE) as fh:
        spec = json.load(fh)
    sizes = dict(zip(spec["fields"], spec["vocab_sizes"]))
    if scale_rows:
        total = sum(sizes.values())
        sizes = {k: max(2, int(v * scale_rows / total)) for k, v in sizes.items()}
    weights = {k: 0.25 * d for k, d in spec["reference_final_dims"].items()}
    return sizes, weights


def _state_bytes(model):
    tables = slots = 0
    for v in model.trainable_variables:
        if "embedding" in v.path and len(v.shape) == 2 and v.shape[0] > 1000:
            tables += int(v.shape[0]) * int(v.shape[1]) * 4
    optimizer = model.optimizer
    for v in optimizer.variables:
        if len(v.shape) == 2 and v.shape[0] > 1000:
            slots += int(v.shape[0]) * int(v.shape[1]) * 4
    return tables, slots


def child(args):
    import keras

    import dimgrow_tf as dg
    from dimgrow_tf.data.synthetic_stream import synthetic_stream

    sizes, weights = _load_vocab(args.scale_rows)
    data = synthetic_stream(sizes, weights, args.batch_size, seed=args.seed)
    next(iter(data.take(1)))
    keras.utils.set_random_seed(args.seed)
    baseline = status("VmRSS")
    reset_peak()
    start = time.perf_counter()
    fields = [dg.FieldConfig(n, v) for n, v in sizes.items()]
    callbacks, emb = [], None
    if args.config in ("dimgrow", "supernet"):
        width = 1 if args.config == "dimgrow" else 16
        model, emb = dg.build_search_model(
            [f.with_dim(width) for f in fields], alpha=0.02, seed=args.seed
        )
        rule = {} if args.config == "dimgrow" else {"low": 0.0, "high": 1.0}
        search = dg.DimGrowCallback(
            emb, dg.SearchConfig(check_every=args.check_every, monitor="loss", **rule)
        )
        callbacks.append(search)
    else:
        dims = json.loads(args.dims) if args.dims else {}
        width = {n: dims.get(n, 16) for n in sizes}
        model = dg.build_model([f.with_dim(width[f.name]) for f in fields])
    model.compile(
        optimizer=dg.LazyAdam(1e-3), loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    build_seconds = time.perf_counter() - start

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

    timer = Timer()
    t0 = time.perf_counter()
    model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0,
              callbacks=callbacks + [timer])
    total = time.perf_counter() - t0
    steady = [b - a for a, b in zip(timer.times[:-1], timer.times[1:])]
    steady.sort()
    median_step = steady[len(steady) // 2]
    tables, slots = _state_bytes(model)
    out = {
        "config": args.config,
        "peak_rss_above_baseline": status("VmHWM") - baseline,
        "baseline_rss": baseline,
        "table_bytes": tables,
        "slot_bytes": slots,
        "examples_per_s_total": args.steps * args.batch_size / total,
        "examples_per_s_median_step": args.batch_size / median_step,
        "build_seconds": build_seconds,
        "train_seconds": total,
    }
    if emb is not None:
        out["widths"] = emb.dims
        out["final_dims"] = search.result().dims
        out["resizes"] = len({e["step"] for e in search.history})
        out["resize_seconds"] = search.resize_seconds
        out["train_traces"] = emb.trace_counts["train"]
    else:
        out["widths"] = {n: int(w) for n, w in width.items()}
    print("RESULT " + json.dumps(out), flush=True)


def step_time_child(args):
    import keras
    import numpy as np

    import dimgrow_tf as dg
    from dimgrow_tf.data.synthetic_stream import synthetic_stream

    sizes, weights = _load_vocab(args.scale_rows)
    data = synthetic_stream(sizes, weights, args.batch_size, seed=args.seed)
    fields = [dg.FieldConfig(n, v, dim=2) for n, v in sizes.items()]
    model = dg.build_model(fields)
    opt = dg.LazyAdam(1e-3) if args.config == "lazy" else keras.optimizers.Adam(1e-3)
    model.compile(optimizer=opt, loss="binary_crossentropy")
    times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.t)

    model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=[Timer()])
    print("RESULT " + json.dumps({"config": args.config, "rows": sum(sizes.values()),
                                  "median_step_s": float(np.median(times[5:]))}), flush=True)


def parent(args):
    common = ["--steps", str(args.steps), "--batch-size", str(args.batch_size),
              "--seed", str(args.seed), "--check-every", str(args.check_every)]
    if args.scale_rows:
        common += ["--scale-rows", str(args.scale_rows)]
    runs = {}
    for config in ("dimgrow", "supernet", "uniform16"):
        runs[config] = spawn(__file__, ["--child", config, *common])
        print(json.dumps({k: v for k, v in runs[config].items() if k not in ("widths", "final_dims")}), flush=True)
    runs["floor"] = spawn(__file__, ["--child", "floor", "--dims", json.dumps(runs["dimgrow"]["widths"]), *common])
    print(json.dumps({k: v for k, v in runs["floor"].items() if k != "widths"}), flush=True)
    scaling = []
    for rows in args.scaling_rows:
        for config in ("lazy", "dense"):
            if config == "dense" and rows > args.dense_max_rows:
                continue
            scaling.append(spawn(__file__, ["--step-child", config, "--steps", "30",
                                   "--batch-size", str(args.batch_size),
                                   "--scale-rows", str(rows)]))
            print(json.dumps(scaling[-1]), flush=True)
    write_report(args, runs, scaling)


def write_report(args, runs, scaling):
    gib = 1024 ** 3
    d, s, f = runs["dimgrow"], runs["supernet"], runs["floor"]
    ratios = {
        "dimgrow_over_supernet_peak": d["peak_rss_above_baseline"] / s["peak_rss_above_baseline"],
        "dimgrow_over_floor_peak": d["peak_rss_above_baseline"] / f["peak_rss_above_baseline"],
        "dimgrow_over_floor_throughput": d["examples_per_s_total"] / f["examples_per_s_total"],
        "dimgrow_over_floor_throughput_steady": d["examples_per_s_median_step"] / f["examples_per_s_median_step"],
    }
    lazy = [r for r in scaling if r["config"] == "lazy"]
    if len(lazy) > 1:
        ratios["lazy_step_time_growth"] = lazy[-1]["median_step_s"] / lazy[0]["median_step_s"]
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    base = os.path.join(HERE, "results", "full_scale_memory")
    with open(base + ".json", "w") as fh:
        json.dump({"args": vars(args), "runs": runs, "scaling": scaling, "ratios": ratios}, fh, indent=1)
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; TF_ENABLE_ONEDNN_OPTS=0, "
        f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', MMAP_THRESHOLD)}. "
        f"{args.steps} steps, batch "
        f"{args.batch_size}, LazyAdam, 39 fields, {sum(_load_vocab(args.scale_rows)[0].values()):,} rows.",
        "",
        "| config | total width | peak RSS above baseline (GiB) | tables + slots (GiB, analytic) | examples/s (whole run) | examples/s (median step) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        lines.append(
            f"| {name} | {sum(r['widths'].values())} | {r['peak_rss_above_baseline'] / gib:.2f} | "
            f"{(r['table_bytes'] + r['slot_bytes']) / gib:.2f} | {r['examples_per_s_total']:,.0f} | "
            f"{r['examples_per_s_median_step']:,.0f} |"
        )
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in ratios.items()]
    if scaling:
        lines += ["", "| optimizer | vocabulary rows | median step (ms) |", "|---|---|---|"]
        lines += [f"| {r['config']} | {r['rows']:,} | {1000 * r['median_step_s']:.1f} |" for r in scaling]
    with open(base + ".md", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        names = list(runs)
        ax[0].bar(names, [runs[n]["peak_rss_above_baseline"] / gib for n in names])
        ax[0].set_ylabel("peak RSS above baseline (GiB)")
        ax[0].set_title("Training memory at Criteo scale")
        for config in ("lazy", "dense"):
            rs = [r for r in scaling if r["config"] == config]
            if rs:
                ax[1].plot([r["rows"] for r in rs], [1000 * r["median_step_s"] for r in rs], "o-", label=config)
        ax[1].set_xscale("log")
        ax[1].set_xlabel("vocabulary rows")
        ax[1].set_ylabel("median step (ms)")
        ax[1].legend()
        fig.tight_layout()
        fig.savefig(base + ".png", dpi=100)
    except ImportError:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("dimgrow", "supernet", "uniform16", "floor"))
    parser.add_argument("--step-child", choices=("lazy", "dense"))
    parser.add_argument("--dims", default=None)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--check-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale-rows", type=int, default=None,
                        help="rescale the vocabularies to this many rows in total")
    parser.add_argument("--scaling-rows", type=int, nargs="*",
                        default=[100_000, 1_000_000, 10_000_000, 33_763_765])
    parser.add_argument("--dense-max-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if not os.path.exists(VOCAB_FILE):
        raise SystemExit(f"{VOCAB_FILE} not found (shared data absent).")
    if args.child:
        args.config = args.child
        child(args)
    elif args.step_child:
        args.config = args.step_child
        step_time_child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
