"""The `dimgrow export` subcommand (wired into `dimgrow_tf.cli`)."""

import json
import os
import sys


def add_parser(subparsers):
    """Adds `export` to the `dimgrow` subcommands; returns its parser."""
    parser = subparsers.add_parser(
        "export",
        help="write a compact TF Serving SavedModel from a .keras model",
        description=(
            "Freeze a searched or retrained model (.keras) into "
            "<export-base>/<name>/<version>/ for TF Serving."
        ),
    )
    parser.add_argument("model", help="searched or retrained model (.keras file)")
    parser.add_argument("--export-base", default="exports",
                        help="base directory (default: exports)")
    parser.add_argument("--name", default="dimgrow", help="model name (default: dimgrow)")
    parser.add_argument("--version", type=int, default=None,
                        help="version number (default: newest + 1)")
    parser.add_argument("--vocab", default=None,
                        help="JSON file {field: [strings]}: those fields take strings")
    parser.add_argument("--prune-gates", action="store_true",
                        help="searched models: drop columns with gate <= 0.5 (approximate)")
    parser.add_argument("--no-warmup", action="store_true",
                        help="skip assets.extra/tf_serving_warmup_requests")
    parser.add_argument(
        "--predict", action="store_true",
        help="then load the export and answer one prediction (see --row)",
    )
    parser.add_argument(
        "--row", default=None, metavar="JSON",
        help="the row --predict answers, e.g. '{\"user\": \"ann\", \"item\": 4}' "
             "(default: the first id or string of every field)",
    )
    return parser


def run(args):
    """Runs `dimgrow export`; returns the exit status."""
    if not os.path.isfile(args.model):
        return _fail(f"{args.model!r} is not a file")
    vocabularies, row = None, None
    try:
        if args.vocab:
            with open(args.vocab) as fh:
                vocabularies = json.load(fh)
        if args.row is not None:
            row = json.loads(args.row)
            if not isinstance(row, dict):
                raise ValueError("--row takes one JSON object {field: value}")
    except (OSError, ValueError) as err:
        return _fail(str(err))
    import keras

    import dimgrow_tf  # noqa: F401  (registers the layers for loading)
    from dimgrow_tf.export.export_saved_model import export_saved_model

    try:
        model = keras.saving.load_model(args.model, compile=False)
        path = export_saved_model(
            model, args.export_base, model_name=args.name, version=args.version,
            vocabularies=vocabularies, prune_gates=args.prune_gates,
            warmup=not args.no_warmup,
        )
    except (OSError, ValueError, TypeError, FileExistsError) as err:
        return _fail(str(err))
    with open(os.path.join(path, "assets.extra", "dimgrow_export.json")) as fh:
        meta = json.load(fh)
    dims = ", ".join(f"{f['name']}={f['dim']}" for f in meta["fields"])
    print(f"Exported {meta['source']} model to {path} ({dims}; "
          f"dropped: {', '.join(meta['dropped_fields']) or 'none'})")
    if args.predict or args.row is not None:
        try:
            answer = predict_one(path, meta, row)
        except (ValueError, TypeError) as err:
            return _fail(str(err))
        print(json.dumps(answer))
    return 0


def predict_one(path, meta, row=None):
    """Loads the export at `path` and answers one `serving_default` row.

    Returns:
        dict `{"request": row, "probability": float}`.
    """
    import tensorflow as tf

    fields = {f["name"]: f for f in meta["fields"]}
    if row is None:
        row = {name: (_first_word(path, name) if f["dtype"] == "string" else 0)
               for name, f in fields.items()}
    unknown = sorted(set(row) - set(fields) - set(meta["dropped_fields"]))
    if unknown or set(fields) - set(row):
        raise ValueError(
            f"The export takes fields {sorted(fields)}; the row has {sorted(row)}."
        )
    tensors = {}
    for name, f in fields.items():
        value = row[name]
        want = str if f["dtype"] == "string" else int
        if isinstance(value, bool) or not isinstance(value, want):
            raise TypeError(f"Field {name!r} takes {f['dtype']} values; got {value!r}.")
        tensors[name] = tf.constant([value], tf.string if want is str else tf.int64)
    loaded = tf.saved_model.load(path)
    prob = loaded.signatures["serving_default"](**tensors)["probability"]
    return {"request": {k: row[k] for k in fields}, "probability": float(prob.numpy()[0])}


def _first_word(path, name):
    with open(os.path.join(path, "assets", f"vocab_{name}.txt"), encoding="utf-8") as fh:
        return fh.readline().rstrip("\n")


def _fail(message):
    print(f"dimgrow: error: {message}", file=sys.stderr)
    return 2
