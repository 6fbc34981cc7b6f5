"""The `dimgrow` command line: demo, search, retrain, report and export."""

import argparse
import os
import sys

from dimgrow_tf.cli_utils import dims_table
from dimgrow_tf.cli_utils import load_data
from dimgrow_tf.cli_utils import metrics_line
from dimgrow_tf.cli_utils import non_negative_float
from dimgrow_tf.cli_utils import positive_int
from dimgrow_tf.cli_utils import write_json

INHERITED = ("epochs", "batch_size", "patience", "seed", "learning_rate",
             "backbone", "output_dim")


def _add_training_args(parser, inherit=False):
    """Training flags (defaults: `TrainSettings`); with `inherit`, unset
    flags take the search's value."""
    from dimgrow_tf.models.builders import BACKBONES
    from dimgrow_tf.models.search_and_retrain import TrainSettings

    defaults = TrainSettings()
    note = " (None: the search's setting, else {})" if inherit else ""

    def default(key):
        return None if inherit else getattr(defaults, key)

    def helptext(text, key):
        return text + note.format(getattr(defaults, key))

    parser.add_argument("--epochs", type=positive_int, default=default("epochs"),
                        help=helptext("maximum epochs", "epochs"))
    parser.add_argument("--batch-size", type=positive_int, default=default("batch_size"),
                        help=helptext("batch size", "batch_size"))
    parser.add_argument("--patience", type=positive_int, default=default("patience"),
                        help=helptext("early-stopping patience on val AUC (a search's "
                                      "unsettled epochs do not count)", "patience"))
    parser.add_argument("--seed", type=int, default=default("seed"),
                        help=helptext("random seed", "seed"))
    parser.add_argument("--backbone", choices=BACKBONES, default=default("backbone"),
                        help=helptext("head after the embedding ('dcn_v2' needs "
                                      "keras-rs: the rs extra)", "backbone"))
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="Keras progress output (1: progress bars)")


def _add_search_args(parser):
    """Search flags; defaults from `SearchConfig`."""
    from dimgrow_tf.search_config import SearchConfig

    defaults = SearchConfig()
    parser.add_argument("--alpha", type=non_negative_float, default=defaults.alpha,
                        help="gate regulariser strength")
    parser.add_argument("--max-dim", type=positive_int, default=defaults.max_dim,
                        help="width cap of every field")
    parser.add_argument("--check-every", type=positive_int, default=defaults.check_every,
                        help="training steps between grow/shrink checks")
    parser.add_argument("--window", type=positive_int, default=defaults.window,
                        help="consecutive checks a condition must hold")
    parser.add_argument("--settle-checks", type=positive_int,
                        default=defaults.settle_checks,
                        help="checks without a resize before the search may stop "
                             "(default: an epoch that resized never counts)")
    parser.add_argument("--budget-bytes", type=positive_int, default=defaults.budget_bytes,
                        help="cap on the embedding state's bytes (tables, projections, "
                             "gates and optimizer slots; None: no cap)")
    parser.add_argument("--gate-updates", choices=("validation", "train"),
                        default=defaults.gate_updates,
                        help="gates learn on validation batches (DARTS) or with the model")
    parser.add_argument("--final-dims", choices=("widths", "gates"), default=defaults.final_dims,
                        help="final dims: a kept field's searched width, or its gates > 0.5")
    parser.add_argument("--final-model", choices=("best", "retrain", "searched"),
                        default=defaults.final_model,
                        help="the model `demo` exports: the retrained one, the search "
                             "model folded at the final dims, or the one with the higher "
                             "validation AUC")


def _search_config(args):
    from dimgrow_tf.search_config import SearchConfig

    return SearchConfig(alpha=args.alpha, max_dim=args.max_dim, check_every=args.check_every,
                        window=args.window, settle_checks=args.settle_checks,
                        budget_bytes=args.budget_bytes, gate_updates=args.gate_updates,
                        final_dims=args.final_dims, final_model=args.final_model)


DATA_HELP = ("a split directory ({train,valid,test}.csv + stats.json) or a "
             "dataset spec JSON (format criteo|frappe|movielens|csv; a csv schema "
             "may declare list and text columns; see README 'Load raw ... files')")
FORMATTER = argparse.ArgumentDefaultsHelpFormatter


def _parser():
    from dimgrow_tf.export import export_cli

    parser = argparse.ArgumentParser(
        prog="dimgrow", description="DimGrow embedding dimension search for Keras 3.",
        formatter_class=FORMATTER,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generated data: search, retrain, compare "
                          "with uniform-16, export and answer one prediction",
                          formatter_class=FORMATTER)
    demo.add_argument("--rows", type=positive_int, default=40000,
                      help="rows of generated data")
    demo.add_argument("--data", default=None, metavar="SPEC.json",
                      help="run on a dataset spec JSON (e.g. with list and text "
                           "columns) instead of generated data")
    demo.add_argument("--out", default="runs/demo", help="output directory")
    _add_training_args(demo)
    _add_search_args(demo)
    search = sub.add_parser(
        "search", help="run the DimGrow search on a dataset", formatter_class=FORMATTER,
        description="Search the dims; writes search_result.json (with the run's "
                    "settings and timings), search_model.keras and, for a dataset "
                    "spec, vocabulary.json (the ids; pass it to `export --vocab`).")
    search.add_argument("data", help=DATA_HELP)
    search.add_argument("--out", default="runs/search", help="output directory")
    _add_training_args(search)
    _add_search_args(search)
    retrain = sub.add_parser(
        "retrain", help="retrain a plain model at the searched dims",
        formatter_class=FORMATTER,
        description="Retrain at the final dims of a search. Training flags not "
                    "given take the search's settings (search_result.json); a "
                    "dataset spec is encoded with the search's vocabulary.json "
                    "when it lies beside the result.")
    retrain.add_argument("data", help=DATA_HELP)
    retrain.add_argument("--result", required=True, help="search_result.json of a search")
    retrain.add_argument("--out", default="runs/retrain", help="output directory")
    retrain.add_argument("--baseline", type=int, default=0, metavar="D",
                         help="also train uniform-D on the same data and compare (0: no)")
    _add_training_args(retrain, inherit=True)
    report = sub.add_parser("report", help="JSON report and PNG plot of a search result",
                            formatter_class=FORMATTER)
    report.add_argument("result", help="search_result.json of a search")
    report.add_argument("--out", default=None, help="directory (None: beside the result)")
    export_cli.add_parser(sub)
    return parser


def _fail(message):
    print(f"dimgrow: error: {message}", file=sys.stderr)
    return 2


def _settings(args, inherited=None):
    """`TrainSettings` from the flags; unset flags (None) take `inherited`
    (a search's recorded settings), then the defaults."""
    import dataclasses

    from dimgrow_tf.models.search_and_retrain import TrainSettings

    values = {k: v for k, v in (inherited or {}).items() if k in INHERITED}
    for key in ("epochs", "batch_size", "patience", "seed", "backbone"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    known = {f.name for f in dataclasses.fields(TrainSettings)}
    return TrainSettings(**{k: v for k, v in values.items() if k in known})


def _run_settings(args, settings, **extra):
    """The settings block written into a run's outputs."""
    import dataclasses

    import keras
    import tensorflow as tf

    from dimgrow_tf import __version__

    return {"command": args.command, "data": os.path.abspath(args.data)
            if getattr(args, "data", None) else None,
            **dataclasses.asdict(settings), **extra,
            "versions": {"dimgrow_tf": __version__, "tensorflow": tf.__version__,
                         "keras": keras.__version__}}


def _search(args, fields, splits):
    from dimgrow_tf.export.compact_model import compact_model
    from dimgrow_tf.export.fold_utils import FoldError
    from dimgrow_tf.models.search_and_retrain import evaluate
    from dimgrow_tf.models.search_and_retrain import run_search

    print(f"Searching dims for {len(fields)} fields on {len(splits['train'][1]):,} rows ...")
    settings = _settings(args)
    config = _search_config(args)
    result, info = run_search(
        fields, splits["train"], splits["valid"], settings, config,
        verbose=args.verbose, save_model=os.path.join(args.out, "search_model.keras"),
    )
    result.settings = _run_settings(args, settings, **config.get_config())
    os.makedirs(args.out, exist_ok=True)
    result.save(os.path.join(args.out, "search_result.json"))
    settled = "settled" if info["settled"] else "NOT settled (raise --epochs)"
    print(f"Search: {info['epochs']} epochs, {info['resizes']} resizes, "
          f"{info['seconds']:.1f}s, widths {settled}.")
    print(dims_table(result))
    if "test" in splits:
        try:  # at the final dims: what `dimgrow export search_model.keras` serves
            compact = compact_model(info["model"], result=result)
        except FoldError as error:  # e.g. a field shrank below its final dims
            compact = None
            print(f"The searched model cannot be served at the final dims: {error}")
        if compact is not None:
            folded = evaluate(compact, splits["test"])
            folded.update(total_dims=result.total_dims,
                          valid_auc=evaluate(compact, splits["valid"])["auc"])
            write_json(os.path.join(args.out, "search_metrics.json"),
                       {"searched_folded": folded})
            print(f"Searched model itself at the final dims (gates folded, no retrain): "
                  f"test AUC {folded['auc']:.4f}, logloss {folded['logloss']:.4f}")
    print(f"Wrote {args.out}/search_result.json and search_model.keras")
    return result


def _retrain(args, result, splits, baseline_dim):
    from dimgrow_tf.models.builders import uniform_fields
    from dimgrow_tf.models.search_and_retrain import evaluate
    from dimgrow_tf.models.search_and_retrain import train_fixed

    settings = _settings(args, result.settings)
    print(f"Retraining a plain model at the searched dims (batch {settings.batch_size}, "
          f"<= {settings.epochs} epochs, seed {settings.seed}) ...")
    model, info = train_fixed(result, splits["train"], splits["valid"], settings,
                              verbose=args.verbose)
    metrics = {"dimgrow": dict(evaluate(model, splits["test"]),
                               valid_auc=evaluate(model, splits["valid"])["auc"]),
               "retrain_seconds": info["seconds"],
               "total_dims": result.total_dims, "embedding_params": result.embedding_params}
    timings = {"retrain_seconds": info["seconds"], "retrain_epochs": info["epochs"]}
    result_dir = os.path.dirname(os.path.abspath(getattr(args, "result", None)
                                                 or os.path.join(args.out, "search_result.json")))
    searched = os.path.join(result_dir, "search_metrics.json")
    if os.path.isfile(searched):
        import json

        with open(searched) as fh:
            metrics.update(json.load(fh))
    if baseline_dim:
        base_fields = uniform_fields(result.fields, baseline_dim)
        print(f"Training uniform-{baseline_dim} for comparison ...")
        base, base_info = train_fixed(base_fields, splits["train"], splits["valid"],
                                      settings, verbose=args.verbose)
        metrics[f"uniform{baseline_dim}"] = evaluate(base, splits["test"])
        timings.update(baseline_seconds=base_info["seconds"],
                       baseline_epochs=base_info["epochs"])
    given = [k for k in ("epochs", "batch_size", "patience", "seed", "backbone")
             if getattr(args, k, None) is not None]
    metrics["settings"] = _run_settings(
        args, settings, baseline=baseline_dim, search_settings=result.settings,
        overridden=given)
    metrics["timings"] = timings
    os.makedirs(args.out, exist_ok=True)
    model.save(os.path.join(args.out, "retrained.keras"))
    write_json(os.path.join(args.out, "metrics.json"), metrics)
    print(metrics_line(metrics, baseline_dim))
    print(f"Wrote {args.out}/retrained.keras and metrics.json")
    return model


def _final_model(args):
    """`"retrained"` or `"searched"` by `--final-model`; `best` compares the
    validation AUCs in metrics.json (the retrain wins ties), and a search model
    that cannot be folded at the final dims leaves the retrained one. Records
    the choice in metrics.json."""
    import json

    path = os.path.join(args.out, "metrics.json")
    with open(path) as fh:
        metrics = json.load(fh)
    searched = metrics.get("searched_folded", {}).get("valid_auc")
    if searched is None:  # the search model could not be folded at the final dims
        kept = "retrained"
    elif args.final_model == "best":
        retrained = metrics["dimgrow"]["valid_auc"]
        kept = "searched" if searched > retrained else "retrained"
        print(f"Validation AUC: retrained {retrained:.4f}, searched model at the final "
              f"dims {searched:.4f}")
    else:
        kept = {"retrain": "retrained", "searched": "searched"}[args.final_model]
    write_json(path, dict(metrics, final_model=kept))
    return kept


def _demo(args):
    from dimgrow_tf.data.synthetic import make_synthetic_ctr
    from dimgrow_tf.data.synthetic import split_rows
    from dimgrow_tf.export import export_cli

    vocab = None
    if args.data:
        fields, splits = load_data(args.data, args.out)
        vocab = os.path.join(args.out, "vocabulary.json")
        vocab = vocab if os.path.isfile(vocab) else None
    else:
        features, labels, fields = make_synthetic_ctr(num_rows=args.rows, seed=args.seed)
        splits = dict(zip(("train", "valid", "test"),
                          split_rows(features, labels, seed=args.seed)))
    result = _search(args, fields, splits)
    _retrain(args, result, splits, baseline_dim=16)
    kept = _final_model(args)
    print(f"Exporting the {kept} model for TF Serving and answering one request ...")
    return export_cli.run(argparse.Namespace(
        model=os.path.join(args.out, "retrained.keras" if kept == "retrained"
                           else "search_model.keras"),
        export_base=os.path.join(args.out, "export"), name="dimgrow", version=None,
        vocab=vocab, result=None, current_widths=False, prune_gates=False,
        no_warmup=False, predict=True, row=None,
    ))


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "export":
            from dimgrow_tf.export import export_cli

            return export_cli.run(args)
        if args.command == "report":
            from dimgrow_tf.models.search_report import write_search_report
            from dimgrow_tf.models.search_result import SearchResult

            result = SearchResult.load(args.result)
            out = args.out or os.path.dirname(os.path.abspath(args.result))
            paths = write_search_report(result, out)
            print(dims_table(result))
            print(f"Wrote {paths['json']} and {paths['png']}")
            return 0
        if args.command == "search":
            fields, splits = load_data(args.data, args.out)
            _search(args, fields, splits)
            return 0
        from dimgrow_tf.models.search_result import SearchResult

        result = SearchResult.load(args.result)
        vocabulary = os.path.join(os.path.dirname(os.path.abspath(args.result)),
                                  "vocabulary.json")
        fields, splits = load_data(args.data, args.out,
                                   vocabulary if os.path.isfile(vocabulary) else None)
        names = [f.name for f in fields]
        if [f.name for f in result.fields] != names:
            return _fail(f"{args.result} was searched on fields "
                         f"{[f.name for f in result.fields]}, the data has {names}")
        _retrain(args, result, splits, baseline_dim=args.baseline)
        return 0
    except (OSError, ValueError, KeyError, ImportError) as err:
        return _fail(err)


if __name__ == "__main__":
    sys.exit(main())
