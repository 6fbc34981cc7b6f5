"""DimGrow vs uniform-16 per backbone (wide_deep, dcn_v2, deepfm) on the shared splits.

Reads `../shared/data/splits/<dataset>` (never copied into the repo). For each
dataset, backbone and seed it runs the library's one search -> retrain path
(`dimgrow_tf.search_and_retrain`, default `SearchConfig` and `TrainSettings`
apart from the backbone, as `accuracy_benchmark.py` runs them) and a
uniform-16 model with the same backbone.
`movielens_100k+items` is MovieLens-100K with the item lists of `u.item`
added (`genres`, multi-valent; `title`, WordPiece tokens: see
`dimgrow_tf.data.movielens_utils.add_item_lists`), to compare with the same
model without them. Writes `benchmarks/results/backbones.{json,md}`.

Usage:
    .venv/bin/python benchmarks/backbone_benchmark.py --seeds 0 1
"""

import argparse
import json
import os
import platform
import time

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
MOVIELENS_RAW = os.path.join(SPLITS, "..", "movielens_100k")
DATASETS = ("frappe", "movielens_100k", "movielens_100k+items")
BACKBONES = ("wide_deep", "dcn_v2", "deepfm")


def load(name):
    """`(fields, splits)` of a dataset name (`+items`: MovieLens item lists)."""
    base = name.split("+")[0]
    fields, splits = load_split_dir(os.path.join(SPLITS, base))
    if name.endswith("+items"):
        from dimgrow_tf.data.movielens_utils import add_item_lists

        fields, splits, _ = add_item_lists(fields, splits, MOVIELENS_RAW)
    return fields, splits


def run(name, fields, splits, backbone, seed, args):
    base = name.split("+")[0]
    settings = dg.TrainSettings(batch_size=BATCH.get(base, 256), epochs=args.epochs,
                                seed=seed, backbone=backbone)
    config = dg.SearchConfig(**json.loads(args.config))
    train = train_data(splits["train"], settings.batch_size, seed)
    valid = to_dataset(*splits["valid"], 4096)
    start = time.perf_counter()
    searched = dg.search_and_retrain(fields, train, valid, settings, config)
    seconds = time.perf_counter() - start
    dimgrow = evaluate(searched.model, splits["test"])  # the model `final_model` keeps
    retrained = searched.info["models"].get("retrained")
    retrained = evaluate(retrained, splits["test"]) if retrained is not None else None
    wide = uniform_fields(fields, args.uniform_dim)
    uniform_model, uniform_info = retrain(wide, train, valid, settings)
    uniform = evaluate(uniform_model, splits["test"])
    result = searched.result
    return {
        "dataset": name, "backbone": backbone, "seed": seed,
        "dimgrow_auc": dimgrow["auc"], "dimgrow_logloss": dimgrow["logloss"],
        "uniform_auc": uniform["auc"], "uniform_logloss": uniform["logloss"],
        "delta_auc": dimgrow["auc"] - uniform["auc"],
        "final_model": searched.info["final_model"],
        "retrained_auc": retrained["auc"] if retrained else None,
        "delta_retrained": retrained["auc"] - uniform["auc"] if retrained else None,
        "dimgrow_dims": result.total_dims, "uniform_dims": args.uniform_dim * len(fields),
        "dimgrow_params": result.embedding_params,
        "uniform_params": sum(f.vocab_size * f.dim for f in wide),
        "dims": result.dims, "settled": result.timings["settled"],
        "search_and_retrain_seconds": seconds, "uniform_seconds": uniform_info["seconds"],
        "settings": settings.get_config(), "config": config.get_config(),
    }


MEANS = ("dimgrow_auc", "uniform_auc", "delta_auc", "delta_retrained", "dimgrow_logloss",
         "uniform_logloss",
         "dimgrow_dims", "uniform_dims", "dimgrow_params", "uniform_params",
         "search_and_retrain_seconds", "uniform_seconds")


def summarise(rows):
    out = []
    for name in DATASETS:
        for backbone in BACKBONES:
            rs = [r for r in rows if r["dataset"] == name and r["backbone"] == backbone]
            if not rs:
                continue
            stats = {k: (float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs])))
                     if all(r.get(k) is not None for r in rs) else None for k in MEANS}
            dims = {f: float(np.mean([r["dims"][f] for r in rs])) for f in rs[0]["dims"]}
            out.append({"dataset": name, "backbone": backbone, "seeds": len(rs), **stats,
                        "kept_searched": sum(r.get("final_model") == "searched" for r in rs),
                        "all_settled": all(r["settled"] for r in rs), "mean_dims": dims})
    return out


def markdown(summary, args):
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs). "
        f"`benchmarks/backbone_benchmark.py --seeds {' '.join(map(str, args.seeds))}"
        f"{' --config ' + repr(args.config) if args.config != '{}' else ''}`: "
        f"default `SearchConfig` / `TrainSettings` on every split (α 0.02, DARTS gates on "
        f"validation batches; ≤ {args.epochs} epochs, patience 2 on val AUC, LazyAdam 1e-3, "
        "batch 256, output 64) with the backbone. Test AUC mean ± std over seeds; "
        f"uniform-{args.uniform_dim} uses the same backbone and, per seed, the same data "
        "order as DimGrow's retrain, so Δ is a paired mean ± std. DimGrow is the model "
        "`search_and_retrain` keeps (`final_model`, default `best`: retrained or searched, "
        "by validation AUC; *kept searched* counts the seeds where it was the searched one).",
        "",
        f"| dataset | backbone | seeds | DimGrow AUC | uniform-{args.uniform_dim} AUC | "
        f"Δ | kept searched | Δ retrained | logloss DimGrow / uniform | dims DimGrow / "
        "uniform | emb. params DimGrow / uniform | settled | wall s: search+retrain / uniform |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        f = lambda k: f"{s[k][0]:.4f} ± {s[k][1]:.4f}"  # noqa: E731
        m = lambda k, p=0: f"{s[k][0]:,.{p}f}"  # noqa: E731
        lines.append(
            f"| {s['dataset']} | {s['backbone']} | {s['seeds']} | {f('dimgrow_auc')} | "
            f"{f('uniform_auc')} | {s['delta_auc'][0]:+.4f} ± {s['delta_auc'][1]:.4f} | "
            f"{s['kept_searched']} | " + (f"{s['delta_retrained'][0]:+.4f} ± "
                                         f"{s['delta_retrained'][1]:.4f} | "
                                         if s["delta_retrained"] else "— | ") +
            f"{m('dimgrow_logloss', 4)} / "
            f"{m('uniform_logloss', 4)} | {m('dimgrow_dims', 1)} / {m('uniform_dims')} | "
            f"{m('dimgrow_params')} / {m('uniform_params')} | "
            f"{'yes' if s['all_settled'] else 'no'} | {m('search_and_retrain_seconds')} / "
            f"{m('uniform_seconds')} |")
    items = [s for s in summary if s["dataset"] == "movielens_100k+items"]
    if items:
        lines += ["", "Mean final dims per field with the item lists (DimGrow):", "",
                  "| backbone | " + " | ".join(items[0]["mean_dims"]) + " |",
                  "|---|" + "---|" * len(items[0]["mean_dims"])]
        for s in items:
            lines.append(f"| {s['backbone']} | " + " | ".join(
                f"{v:.1f}" for v in s["mean_dims"].values()) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=dg.TrainSettings.epochs)
    parser.add_argument("--uniform-dim", type=int, default=16)
    parser.add_argument("--config", default="{}",
                        help="JSON of SearchConfig overrides, e.g. '{\"alpha\": 0.005}'")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "backbones"))
    args = parser.parse_args()
    if not os.path.isdir(SPLITS):
        raise SystemExit(f"Split directories not found under {SPLITS}")
    rows = []
    for name in args.datasets:
        fields, splits = load(name)
        for backbone in args.backbones:
            for seed in args.seeds:
                rows.append(run(name, fields, splits, backbone, seed, args))
                print(json.dumps({k: v for k, v in rows[-1].items()
                                  if k not in ("settings", "config")}), flush=True)
                _write(rows, args)
    print(markdown(summarise(rows), args))


def _write(rows, args):
    summary = summarise(rows)
    write_results(args.out, args, rows, summary, markdown(summary, args))


if __name__ == "__main__":
    main()
