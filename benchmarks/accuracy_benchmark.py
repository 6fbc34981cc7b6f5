"""DimGrow search + retrain vs uniform-16 and SuperNet prune on the shared splits.

Reads `../shared/data/splits/<dataset>` (never copied into the repo) and runs,
for each seed, the library's one search -> retrain path
(`dimgrow_tf.search_and_retrain`, default `SearchConfig` and `TrainSettings`
on every split, apart from Criteo's batch below), the searched model itself
(gates folded, no retrain), the SuperNet-prune baseline (every field at 16,
same gates, never resized, dims = gates > 0.5, retrained) and uniform-16.
Every model trains on a fresh dataset with the seed's data order (a factory,
see `search_and_retrain`), so DimGrow's retrain and uniform-16 see the same
batches and their per-seed difference is paired. Reports test AUC / logloss,
dims, embedding parameters, resize events and wall times, all from one run.
Writes `benchmarks/results/accuracy_<tag>.{json,md}`.

Usage:
    .venv/bin/python benchmarks/accuracy_benchmark.py --seeds 0 1 2
"""

import argparse
import json
import os
import platform
import time

import numpy as np

import dimgrow_tf as dg
from bench_utils import train_data
from bench_utils import write_results
from dimgrow_tf.data.datasets import load_split_dir
from dimgrow_tf.data.datasets import to_dataset
from dimgrow_tf.export.fold_utils import find_embedding_layer
from dimgrow_tf.models.builders import uniform_fields
from dimgrow_tf.models.search_and_retrain import evaluate
from dimgrow_tf.models.search_and_retrain import retrain
from dimgrow_tf.models.search_and_retrain import search
from dimgrow_tf.models.search_and_retrain import searched_model
from dimgrow_tf.models.search_and_retrain import supernet_config

HERE = os.path.dirname(os.path.abspath(__file__))
SPLITS = os.path.join(HERE, "..", "..", "shared", "data", "splits")
DATASETS = ("frappe", "movielens_100k", "criteo")
# Criteo 10k has 8,000 training rows: batch 64 gives it 125 steps per epoch.
BATCH = {"criteo": 64}
# The authors' PyTorch code on the same splits (issue #11's table).
AUTHORS_AUC = {"frappe": 0.9553, "movielens_100k": 0.7800}


def run_seed(name, fields, splits, seed, args):
    settings = dg.TrainSettings(batch_size=args.batch_size or BATCH.get(name, 256),
                                epochs=args.epochs, seed=seed)
    config = dg.SearchConfig(**json.loads(args.config))
    train = train_data(splits["train"], settings.batch_size, seed)
    valid = to_dataset(*splits["valid"], 4096)
    test = splits["test"]

    run = dg.search_and_retrain(fields, train, valid, settings, config)
    result, timings = run.result, run.result.timings
    dimgrow = evaluate(run.model, test)  # the model `config.final_model` keeps
    models = dict(run.info["models"])
    if "searched" not in models:
        models["searched"] = searched_model(run.search_model, result)
    # The searched model: the search model at the final dims, gates folded (what
    # `dimgrow export search_model.keras` serves when the retrain is skipped).
    searched = evaluate(models["searched"], test)
    retrained = evaluate(models["retrained"], test) if "retrained" in models else None
    end_dims = find_embedding_layer(run.search_model).total_dims

    start = time.perf_counter()
    wide = uniform_fields(fields, args.uniform_dim)
    supernet_result, _, _ = search(wide, train, valid, settings,
                                   supernet_config(config, args.uniform_dim))
    supernet_model, _ = retrain(supernet_result, train, valid, settings)
    supernet = evaluate(supernet_model, test)
    supernet_seconds = time.perf_counter() - start

    uniform_model, uniform_info = retrain(wide, train, valid, settings)
    uniform = evaluate(uniform_model, test)
    return {
        "dataset": name, "seed": seed, "config": config.get_config(),
        "settings": settings.get_config(),
        "dimgrow_auc": dimgrow["auc"], "dimgrow_logloss": dimgrow["logloss"],
        "final_model": run.info["final_model"],
        "valid_auc": run.info.get("valid_auc"),
        "retrained_auc": retrained["auc"] if retrained else None,
        "searched_auc": searched["auc"], "searched_logloss": searched["logloss"],
        "uniform_auc": uniform["auc"], "uniform_logloss": uniform["logloss"],
        "delta_auc": dimgrow["auc"] - uniform["auc"],
        "delta_retrained": retrained["auc"] - uniform["auc"] if retrained else None,
        "supernet_auc": supernet["auc"], "supernet_logloss": supernet["logloss"],
        "dimgrow_dims": result.total_dims, "searched_end_dims": end_dims,
        "supernet_dims": supernet_result.total_dims,
        "uniform_dims": args.uniform_dim * len(fields),
        "dimgrow_params": result.embedding_params,
        "supernet_params": supernet_result.embedding_params,
        "uniform_params": sum(f.vocab_size * f.dim for f in wide),
        "resizes": timings["resizes"], "settled": timings["settled"],
        "search_epochs": timings["epochs"], "retrain_epochs": timings.get("retrain_epochs", 0),
        "search_seconds": timings["seconds"],
        "retrain_seconds": timings.get("retrain_seconds", 0.0),
        "uniform_seconds": uniform_info["seconds"], "uniform_epochs": uniform_info["epochs"],
        "supernet_seconds": supernet_seconds, "dims": result.dims,
    }


MEANS = ("dimgrow_auc", "retrained_auc", "searched_auc", "uniform_auc", "supernet_auc",
         "delta_auc", "delta_retrained",
         "dimgrow_logloss", "searched_logloss", "uniform_logloss", "supernet_logloss",
         "dimgrow_dims", "uniform_dims", "supernet_dims", "dimgrow_params", "uniform_params",
         "supernet_params", "search_seconds", "retrain_seconds", "uniform_seconds",
         "supernet_seconds", "resizes")


def summarise(rows):
    out = []
    for name in [d for d in DATASETS if any(r["dataset"] == d for r in rows)]:
        rs = [r for r in rows if r["dataset"] == name]
        stats = {k: (float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs])))
                 if all(r[k] is not None for r in rs) else None for k in MEANS}
        total = stats["search_seconds"][0] + stats["retrain_seconds"][0]
        out.append({
            "dataset": name, "seeds": len(rs), **stats,
            "min_resizes": min(r["resizes"] for r in rs),
            "kept_searched": sum(r["final_model"] == "searched" for r in rs),
            "all_settled": all(r["settled"] for r in rs),
            "wall_ratio": total / stats["uniform_seconds"][0],
            "authors_auc": AUTHORS_AUC.get(name),
        })
    return out


def markdown(summary, args):
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared). One run of "
        f"`benchmarks/accuracy_benchmark.py --seeds {' '.join(map(str, args.seeds))}"
        f"{' --config ' + repr(args.config) if args.config != '{}' else ''}`: default "
        f"`SearchConfig` / `TrainSettings` on every split (α 0.02, check every step, window 1, "
        f"DARTS gates on validation batches; ≤ {args.epochs} epochs, patience 2 on val AUC, "
        "LazyAdam 1e-3, batch 256; Criteo 10k: batch 64). "
        "Test AUC mean ± std over seeds; every model of a seed trains on the same data "
        "order, so Δ (vs uniform-16) is a paired mean ± std. *DimGrow* is the model "
        "`search_and_retrain` returns (`final_model`, default `best`: the retrained or the "
        "searched model, whichever has the higher validation AUC; *kept searched* counts the "
        "seeds where that was the searched one). *Searched* is the "
        "search model itself at the final dims, gates folded, no retrain (what `dimgrow "
        "export search_model.keras` serves); SuperNet = every field at 16 "
        "with the same gates, pruned "
        "to gates > 0.5 and retrained.",
        "",
        "| dataset | seeds | DimGrow | kept searched | retrained | searched, no retrain | "
        "uniform-16 | SuperNet prune | authors' code | Δ DimGrow vs uniform | Δ retrained vs "
        "uniform | dims DimGrow / SuperNet / uniform | emb. params DimGrow / uniform | "
        "resizes per seed (min) | settled | wall s: search + retrain / uniform-16 (ratio) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        f = lambda k: f"{s[k][0]:.4f} ± {s[k][1]:.4f}" if s[k] else "—"  # noqa: E731
        d = lambda k: f"{s[k][0]:+.4f} ± {s[k][1]:.4f}" if s[k] else "—"  # noqa: E731
        m = lambda k, p=0: f"{s[k][0]:,.{p}f}"  # noqa: E731
        authors = f"{s['authors_auc']:.4f}" if s["authors_auc"] else "—"
        lines.append(
            f"| {s['dataset']} | {s['seeds']} | {f('dimgrow_auc')} | {s['kept_searched']} | "
            f"{f('retrained_auc')} | {f('searched_auc')} | "
            f"{f('uniform_auc')} | {f('supernet_auc')} | {authors} | "
            f"{d('delta_auc')} | {d('delta_retrained')} | {m('dimgrow_dims', 1)} / "
            f"{m('supernet_dims', 1)} / {m('uniform_dims')} | {m('dimgrow_params')} / "
            f"{m('uniform_params')} | {m('resizes', 1)} ({s['min_resizes']}) | "
            f"{'yes' if s['all_settled'] else 'no'} | {m('search_seconds')} + "
            f"{m('retrain_seconds')} / {m('uniform_seconds')} ({s['wall_ratio']:.1f}×) |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=dg.TrainSettings.epochs)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="one batch size for every dataset (default: 256, Criteo 64)")
    parser.add_argument("--config", default="{}",
                        help="JSON of SearchConfig overrides, e.g. '{\"window\": 2}'")
    parser.add_argument("--uniform-dim", type=int, default=16)
    parser.add_argument("--splits", default=SPLITS)
    parser.add_argument("--tag", default="splits")
    args = parser.parse_args()
    missing = [d for d in args.datasets if not os.path.isdir(os.path.join(args.splits, d))]
    if missing:
        raise SystemExit(f"Split directories not found under {args.splits}: {missing}")
    rows = []
    for name in args.datasets:
        fields, splits = load_split_dir(os.path.join(args.splits, name))
        for seed in args.seeds:
            rows.append(run_seed(name, fields, splits, seed, args))
            print(json.dumps({k: v for k, v in rows[-1].items()
                              if k not in ("dims", "config", "settings")}), flush=True)
    summary = summarise(rows)
    base = os.path.join(HERE, "results", f"accuracy_{args.tag}")
    write_results(base, args, rows, summary, markdown(summary, args))
    print(markdown(summary, args))


if __name__ == "__main__":
    main()
