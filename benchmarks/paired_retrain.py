"""Paired retrains: searched dims vs uniform-16 on the same data order.

`to_dataset(..., shuffle=True, seed=s)` reshuffles on every pass, and a
pass's order depends on how many passes the dataset object has served, so a
model trained after a search sees other epochs than one trained first. This
benchmark takes the searched dims of a `dims_frontier.py` run (its JSON) and,
for each search seed and each data-order seed in `--orders`, retrains the
searched dims and uniform-16 each on a fresh dataset: both models of a pair
see the same order sequence, so their difference is free of that noise.
Writes `benchmarks/results/paired_retrain_<dataset>.{json,md}`.

Usage:
    .venv/bin/python benchmarks/paired_retrain.py --dataset frappe
"""

import argparse
import json
import os
import platform

import numpy as np

import dimgrow_tf as dg
from accuracy_benchmark import BATCH
from accuracy_benchmark import SPLITS
from bench_utils import train_data
from bench_utils import write_results
from dimgrow_tf.data.datasets import load_split_dir
from dimgrow_tf.data.datasets import to_dataset
from dimgrow_tf.models.builders import uniform_fields
from dimgrow_tf.models.search_and_retrain import evaluate
from dimgrow_tf.models.search_and_retrain import retrain

HERE = os.path.dirname(os.path.abspath(__file__))


def run_pair(fields, splits, valid, dims, seed, order, batch_size):
    out = {"seed": seed, "order": order, "dims": dims, "total_dims": sum(dims.values())}
    searched = [f.with_dim(dims[f.name]) for f in fields]
    for label, pair_fields in (("dimgrow", searched), ("uniform", uniform_fields(fields, 16))):
        model, _ = retrain(pair_fields, train_data(splits["train"], batch_size, order), valid,
                           dg.TrainSettings(batch_size=batch_size, seed=seed))
        out[f"{label}_auc"] = evaluate(model, splits["test"])["auc"]
    out["delta"] = out["dimgrow_auc"] - out["uniform_auc"]
    return out


def markdown(rows, args):
    deltas = [r["delta"] for r in rows]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared). One run of "
        f"`benchmarks/paired_retrain.py --dataset {args.dataset} --orders "
        f"{' '.join(map(str, args.orders))}`: the searched dims of "
        f"`dims_frontier_{args.dataset}.json` and uniform-16, each retrained (Wide&Deep, "
        "default `TrainSettings`) on a fresh dataset with the same data-order seed.",
        "",
        "| search seed | order seed | dims | DimGrow AUC | uniform-16 AUC | Δ |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['order']} | {r['total_dims']} | "
                     f"{r['dimgrow_auc']:.4f} | {r['uniform_auc']:.4f} | {r['delta']:+.4f} |")
    lines += ["", f"Mean Δ over {len(rows)} pairs: {np.mean(deltas):+.4f} "
              f"(std {np.std(deltas):.4f}; {sum(d >= -0.001 for d in deltas)} of "
              f"{len(rows)} pairs at ≥ −0.001)."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="frappe")
    parser.add_argument("--orders", nargs="+", type=int, default=[0, 100],
                        help="data-order offsets added to each search seed")
    parser.add_argument("--splits", default=SPLITS)
    args = parser.parse_args()
    frontier = os.path.join(HERE, "results", f"dims_frontier_{args.dataset}.json")
    if not os.path.exists(frontier):
        raise SystemExit(f"Run dims_frontier.py --dataset {args.dataset} first: {frontier}")
    fields, splits = load_split_dir(os.path.join(args.splits, args.dataset))
    searched = [r for r in json.load(open(frontier))["runs"] if r["variant"] == "DimGrow ×1"]
    valid = to_dataset(*splits["valid"], 4096)
    rows = []
    for run in searched:
        for offset in args.orders:
            rows.append(run_pair(fields, splits, valid, run["dims"], run["seed"],
                                 run["seed"] + offset, BATCH.get(args.dataset, 256)))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "dims"}), flush=True)
    summary = {"mean_delta": float(np.mean([r["delta"] for r in rows])),
               "std_delta": float(np.std([r["delta"] for r in rows]))}
    base = os.path.join(HERE, "results", f"paired_retrain_{args.dataset}")
    write_results(base, args, rows, summary, markdown(rows, args))
    print(markdown(rows, args))


if __name__ == "__main__":
    main()
