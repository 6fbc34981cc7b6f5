"""Test AUC against total dims: DimGrow's allocation, scaled, vs uniform widths.

For each seed of a shared split this runs one default DimGrow search
(`dimgrow_tf.models.search_and_retrain.search`, default `SearchConfig` and
`TrainSettings`) and retrains, with the library's `retrain`:
- the searched dims (default `SearchConfig.final_dims="widths"`: a kept
  field's width at the best epoch), and the searched dims scaled by 1.5 and 2
  (rounded up, capped at the field's max width (16); dropped fields stay
  dropped), which keeps DimGrow's allocation and adds width;
- the reference's final dims (the count of gates > 0.5 per field) and the
  searched widths of every field (`SearchResult.searched_dims`, also the
  fields the gates drop);
- uniform-d for every d in `--uniform` (every field at width d).
Every retrain of a seed trains on a fresh dataset with the seed's data order,
so each row's difference to the seed's uniform-16 is paired. The table shows which
AUC a dims budget buys on the split, so a target like "uniform-16's AUC
with 20 % of its dims" can be checked against what any allocation reaches.
`--backbone` picks the head of every model (default Wide&Deep), `--scales`
the scalings. Writes
`benchmarks/results/dims_frontier_<dataset>[_<backbone>][_<tag>].{json,md}`.

Usage:
    .venv/bin/python benchmarks/dims_frontier.py --dataset frappe --seeds 0 1 2
"""

import argparse
import json
import math
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
from dimgrow_tf.models.search_and_retrain import evaluate
from dimgrow_tf.models.search_and_retrain import retrain
from dimgrow_tf.models.search_and_retrain import search
from dimgrow_tf.models.search_result import FINAL_GATE_THRESHOLD

HERE = os.path.dirname(os.path.abspath(__file__))


def scaled(fields, dims, scale, max_dim):
    return {f.name: min(math.ceil(dims[f.name] * scale), f.max_dim or max_dim) for f in fields}


def run_seed(fields, splits, seed, args):
    settings = dg.TrainSettings(batch_size=BATCH.get(args.dataset, 256), seed=seed,
                                backbone=args.backbone)
    config = dg.SearchConfig()
    train = train_data(splits["train"], settings.batch_size, seed)
    valid = to_dataset(*splits["valid"], 4096)
    result, _, _ = search(fields, train, valid, settings, config)
    variants = {f"DimGrow ×{s:g}": scaled(fields, result.dims, s, config.max_dim)
                for s in args.scales}
    variants["gates > 0.5"] = {
        f.name: int(np.sum(np.asarray(result.gates.get(f.name, [])) > FINAL_GATE_THRESHOLD))
        for f in fields}
    variants["searched widths, every field"] = dict(result.searched_dims)
    variants.update({f"uniform-{d}": {f.name: d for f in fields} for d in args.uniform})
    rows = []
    for name, dims in variants.items():
        model, info = retrain([f.with_dim(dims[f.name]) for f in fields],
                              train, valid, settings)
        metrics = evaluate(model, splits["test"])
        rows.append({"seed": seed, "variant": name, "dims": dims,
                     "total_dims": sum(dims.values()), "epochs": info["epochs"], **metrics})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "dims"}), flush=True)
    widest = rows[-1]["auc"]  # the last uniform width, 16 by default
    for r in rows:
        r["delta"] = r["auc"] - widest
    return rows


def summarise(rows):
    out = []
    for name in dict.fromkeys(r["variant"] for r in rows):
        rs = [r for r in rows if r["variant"] == name]
        out.append({
            "variant": name, "seeds": len(rs),
            "auc": float(np.mean([r["auc"] for r in rs])),
            "auc_std": float(np.std([r["auc"] for r in rs])),
            "logloss": float(np.mean([r["logloss"] for r in rs])),
            "delta": float(np.mean([r["delta"] for r in rs])),
            "delta_std": float(np.std([r["delta"] for r in rs])),
            "total_dims": float(np.mean([r["total_dims"] for r in rs])),
            "min_dims": min(r["total_dims"] for r in rs),
            "max_dims": max(r["total_dims"] for r in rs),
        })
    return sorted(out, key=lambda s: s["total_dims"])


def markdown(summary, args):
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared). One run of "
        f"`benchmarks/dims_frontier.py --dataset {args.dataset} --backbone {args.backbone} "
        f"--seeds {' '.join(map(str, args.seeds))} "
        f"--scales {' '.join(f'{x:g}' for x in args.scales)} "
        f"--uniform {' '.join(map(str, args.uniform))}`: per seed one default DimGrow search, "
        "then retrains (default `TrainSettings`, same backbone) at the searched dims "
        "(`final_dims=\"widths\"`) scaled as listed (rounded up, capped at 16), at the "
        "count of gates > 0.5 per field (the reference's rule), at every field's searched "
        "width and at uniform widths. "
        "Every retrain of a seed sees the same data order. Test AUC mean ± std over seeds, "
        f"sorted by total dims; Δ = the row minus the same seed's uniform-{args.uniform[-1]} "
        "(paired), mean ± std.",
        "",
        f"| variant | seeds | test AUC | Δ vs uniform-{args.uniform[-1]} | logloss | "
        "total dims (min–max) |",
        "|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['variant']} | {s['seeds']} | {s['auc']:.4f} ± {s['auc_std']:.4f} | "
            f"{s['delta']:+.4f} ± {s['delta_std']:.4f} | {s['logloss']:.4f} | "
            f"{s['total_dims']:.1f} ({s['min_dims']}–{s['max_dims']}) |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="frappe")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--uniform", nargs="+", type=int, default=[1, 2, 3, 4, 8, 16])
    parser.add_argument("--scales", nargs="+", type=float, default=[1.0, 1.5, 2.0])
    parser.add_argument("--backbone", default=dg.TrainSettings.backbone)
    parser.add_argument("--tag", default="", help="suffix of the result files")
    parser.add_argument("--splits", default=SPLITS)
    args = parser.parse_args()
    split_dir = os.path.join(args.splits, args.dataset)
    if not os.path.isdir(split_dir):
        raise SystemExit(f"Split directory not found: {split_dir}")
    fields, splits = load_split_dir(split_dir)
    rows = [r for seed in args.seeds for r in run_seed(fields, splits, seed, args)]
    summary = summarise(rows)
    tag = args.dataset if args.backbone == "wide_deep" else f"{args.dataset}_{args.backbone}"
    tag += f"_{args.tag}" if args.tag else ""
    base = os.path.join(HERE, "results", f"dims_frontier_{tag}")
    write_results(base, args, rows, summary, markdown(summary, args))
    print(markdown(summary, args))


if __name__ == "__main__":
    main()
