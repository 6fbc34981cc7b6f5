"""Compact DimGrow export vs a uniform-16 export: size on disk and latency.

For each dataset (a shared split directory, never copied into the repo):
search the dims, retrain at the final dims and at uniform 16, export the
retrained DimGrow model, the searched model folded directly (exact fold,
searched widths) and the uniform-16 model with `export_saved_model`, then
load each export in this process with `tf.saved_model.load` and time the
`serving_default` signature at batch 1 and 256 (p50/p99 over interleaved
calls, so machine noise hits every export alike). Test AUC is computed
from the served predictions. Writes `benchmarks/results/export_<tag>.json`
and `.md`.

Usage:
    .venv/bin/python benchmarks/export_benchmark.py --datasets criteo frappe
"""

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
import tensorflow as tf

from dimgrow_tf.data.datasets import load_split_dir
from dimgrow_tf.export import export_saved_model
from dimgrow_tf.models.builders import uniform_fields
from dimgrow_tf.models.search_and_retrain import TrainSettings
from dimgrow_tf.models.search_and_retrain import binary_metrics
from dimgrow_tf.models.search_and_retrain import run_search
from dimgrow_tf.models.search_and_retrain import train_fixed
from dimgrow_tf.search_config import SearchConfig

HERE = os.path.dirname(os.path.abspath(__file__))
SPLITS = os.path.join(HERE, "..", "..", "shared", "data", "splits")
ALPHA = {"movielens_100k": 0.1, "criteo": 0.02, "frappe": 0.02}
BATCHES = (1, 256)


def dir_bytes(path):
    total, variables = 0, 0
    for root, _, files in os.walk(path):
        for name in files:
            size = os.path.getsize(os.path.join(root, name))
            total += size
            if os.path.basename(root) == "variables":
                variables += size
    return total, variables


def time_exports(signatures, test, args):
    """p50/p99 latency in ms per export and batch size, calls interleaved."""
    features, _ = test
    rng = np.random.default_rng(0)
    timings = {name: {b: [] for b in BATCHES} for name in signatures}
    inputs = {}
    for name, (_, fields, _) in signatures.items():
        for b in BATCHES:
            rows = rng.integers(0, len(next(iter(features.values()))), b)
            inputs[name, b] = {f: tf.constant(features[f][rows], tf.int64) for f in fields}
    for b in BATCHES:
        calls = args.calls if b == 1 else max(args.calls // 4, 20)
        for step in range(calls + args.warmup_calls):
            for name, (fn, _, _) in signatures.items():
                start = time.perf_counter()
                fn(**inputs[name, b])["probability"].numpy()
                if step >= args.warmup_calls:
                    timings[name][b].append(time.perf_counter() - start)
    return {
        name: {
            f"batch_{b}": {
                "p50_ms": 1e3 * float(np.percentile(t, 50)),
                "p99_ms": 1e3 * float(np.percentile(t, 99)),
                "calls": len(t),
            }
            for b, t in per_batch.items()
        }
        for name, per_batch in timings.items()
    }


def run_dataset(name, args, base):
    fields, splits = load_split_dir(os.path.join(args.splits, name))
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    settings = TrainSettings(batch_size=args.batch_size, epochs=args.epochs, seed=args.seed)
    config = SearchConfig(alpha=ALPHA.get(name, SearchConfig.alpha))
    result, info = run_search(fields, train, valid, settings, config)
    search_model, search_seconds = info["model"], info["seconds"]
    retrained, _ = train_fixed(result, train, valid, settings)
    uniform, _ = train_fixed(uniform_fields(fields, 16), train, valid, settings)
    models = {"dimgrow_retrained": retrained, "dimgrow_searched_folded": search_model,
              "uniform16": uniform}
    exports, signatures = {}, {}
    for label, model in models.items():
        path = export_saved_model(model, base, model_name=f"{name}_{label}")
        total, variables = dir_bytes(path)
        with open(os.path.join(path, "assets.extra", "dimgrow_export.json")) as fh:
            meta = json.load(fh)
        loaded = tf.saved_model.load(path)
        fn = loaded.signatures["serving_default"]
        kept = [f["name"] for f in meta["fields"]]
        served = fn(**{f: tf.constant(test[0][f], tf.int64) for f in kept})["probability"]
        exports[label] = {
            "bytes": total,
            "variable_bytes": variables,
            "total_dims": meta["total_dims"],
            "kept_fields": len(kept),
            "test": binary_metrics(test[1], served.numpy()),
        }
        signatures[label] = (fn, kept, loaded)
    latency = time_exports(signatures, test, args)
    base_bytes = exports["uniform16"]["bytes"]
    base_vars = exports["uniform16"]["variable_bytes"]
    for label, entry in exports.items():
        entry["latency"] = latency[label]
        entry["size_ratio"] = entry["bytes"] / base_bytes
        entry["variable_ratio"] = entry["variable_bytes"] / base_vars
    return {
        "dataset": name,
        "fields": len(fields),
        "vocab_rows": sum(f.vocab_size for f in fields),
        "final_dims": result.dims,
        "search_seconds": search_seconds,
        "exports": exports,
    }


def markdown(report):
    lines = [
        f"# Export benchmark ({report['when']}, {report['machine']})",
        "",
        "Sizes are whole version directories (graph + variables + assets + warmup); latency is",
        "the `serving_default` signature loaded in-process with `tf.saved_model.load`, p50/p99",
        "over interleaved calls. Ratios are against the uniform-16 export of the same data.",
        "",
        "| dataset | export | dims | size KiB | size ratio | variables KiB | var. ratio "
        "| b1 p50 ms | b1 p99 ms | b256 p50 ms | b256 p99 ms | test AUC |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        for label, e in run["exports"].items():
            l1, l256 = e["latency"]["batch_1"], e["latency"]["batch_256"]
            lines.append(
                f"| {run['dataset']} | {label} | {e['total_dims']} | {e['bytes'] / 1024:.0f} "
                f"| {e['size_ratio']:.2f} | {e['variable_bytes'] / 1024:.0f} "
                f"| {e['variable_ratio']:.2f} | {l1['p50_ms']:.3f} | {l1['p99_ms']:.3f} "
                f"| {l256['p50_ms']:.3f} | {l256['p99_ms']:.3f} | {e['test']['auc']:.4f} |"
            )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["criteo", "frappe"])
    parser.add_argument("--splits", default=SPLITS)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--warmup-calls", type=int, default=20)
    parser.add_argument("--tag", default="benchmark")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dimgrow_export_bench_") as base:
        runs = [run_dataset(name, args, base) for name in args.datasets]
    report = {
        "when": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}",
        "args": vars(args),
        "runs": runs,
    }
    out = os.path.join(HERE, "results", f"export_{args.tag}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".json", "w") as fh:
        json.dump(report, fh, indent=1)
    with open(out + ".md", "w") as fh:
        fh.write(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
