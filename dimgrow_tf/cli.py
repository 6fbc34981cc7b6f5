"""The `dimgrow` command line: demo, search and retrain."""

import argparse
import json
import os
import sys


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="dimgrow",
        description="DimGrow embedding dimension search for Keras 3.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="search + retrain on generated data with planted signal"
    )
    demo.add_argument("--rows", type=_positive_int, default=40000)
    demo.add_argument("--epochs", type=_positive_int, default=8)
    demo.add_argument("--out", default="runs/demo", help="output directory")
    search = sub.add_parser(
        "search", help="search + retrain on a split directory (train/valid/test.csv)"
    )
    search.add_argument("data", help="directory with {train,valid,test}.csv + stats.json")
    search.add_argument("--epochs", type=_positive_int, default=10)
    search.add_argument("--out", default="runs/search", help="output directory")
    for p in (demo, search):
        p.add_argument("--alpha", type=float, default=0.02)
        p.add_argument("--max-dim", type=_positive_int, default=16)
        p.add_argument("--batch-size", type=_positive_int, default=256)
        p.add_argument("--check-every", type=_positive_int, default=50)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))
    return parser


def _table(result, metrics, baseline):
    lines = [f"{'field':<24}{'vocab':>10}{'dim':>6}  final gates"]
    for f in result.fields:
        gates = " ".join(f"{g:.2f}" for g in result.gates.get(f.name, []))
        lines.append(f"{f.name:<24}{f.vocab_size:>10}{f.dim:>6}  {gates}")
    n = len(result.fields)
    lines.append(
        f"total dims {result.total_dims} (uniform-16: {16 * n}); embedding "
        f"params {result.embedding_params:,} "
        f"(uniform-16: {16 * sum(f.vocab_size for f in result.fields):,})"
    )
    lines.append(
        f"test AUC {metrics['auc']:.4f} logloss {metrics['logloss']:.4f} | "
        f"uniform-16 AUC {baseline['auc']:.4f} logloss {baseline['logloss']:.4f}"
    )
    return "\n".join(lines)


def _run(args, fields, splits):
    from dimgrow_tf.models.builders import uniform_fields
    from dimgrow_tf.models.search_and_retrain import TrainSettings
    from dimgrow_tf.models.search_and_retrain import evaluate
    from dimgrow_tf.models.search_and_retrain import run_search
    from dimgrow_tf.models.search_and_retrain import train_fixed

    settings = TrainSettings(
        batch_size=args.batch_size, epochs=args.epochs, seed=args.seed
    )
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    print(f"Searching dims for {len(fields)} fields on {len(train[1]):,} rows ...")
    result, info = run_search(
        fields, train, valid, settings, alpha=args.alpha,
        callback_kwargs={"max_dim": args.max_dim, "check_every": args.check_every,
                         "verbose": args.verbose},
        verbose=args.verbose,
    )
    print(f"Search: {info['epochs']} epochs, {info['resizes']} resizes, "
          f"{info['seconds']:.1f}s. Retraining at the final dims ...")
    model, _ = train_fixed(result, train, valid, settings, verbose=args.verbose)
    metrics = evaluate(model, test)
    baseline_model, _ = train_fixed(
        uniform_fields(fields, 16), train, valid, settings, verbose=args.verbose
    )
    baseline = evaluate(baseline_model, test)
    os.makedirs(args.out, exist_ok=True)
    result.save(os.path.join(args.out, "search_result.json"))
    model.save(os.path.join(args.out, "retrained.keras"))
    with open(os.path.join(args.out, "metrics.json"), "w") as fh:
        json.dump({"dimgrow": metrics, "uniform16": baseline,
                   "search_seconds": info["seconds"]}, fh, indent=1)
    print(_table(result, metrics, baseline))
    print(f"Wrote {args.out}/search_result.json, retrained.keras, metrics.json")
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.alpha < 0:
        print("dimgrow: error: --alpha must be >= 0", file=sys.stderr)
        return 2
    if args.command == "demo":
        from dimgrow_tf.data.synthetic import make_synthetic_ctr
        from dimgrow_tf.data.synthetic import split_rows

        features, labels, fields = make_synthetic_ctr(
            num_rows=args.rows, seed=args.seed
        )
        parts = split_rows(features, labels, seed=args.seed)
        return _run(args, fields, dict(zip(("train", "valid", "test"), parts)))
    from dimgrow_tf.data.datasets import load_split_dir

    if not os.path.isdir(args.data):
        print(f"dimgrow: error: {args.data!r} is not a directory", file=sys.stderr)
        return 2
    try:
        fields, splits = load_split_dir(args.data)
    except (OSError, ValueError) as err:
        print(f"dimgrow: error: {err}", file=sys.stderr)
        return 2
    return _run(args, fields, splits)


if __name__ == "__main__":
    sys.exit(main())
