"""The `dimgrow export` subcommand (wired into `dimgrow_tf.cli`)."""

import argparse
import json
import os
import sys

RESULT_FILE = "search_result.json"


def add_parser(subparsers):
    """Adds `export` to the `dimgrow` subcommands; returns its parser."""
    parser = subparsers.add_parser(
        "export",
        help="write a compact TF Serving SavedModel from a .keras model",
        description=(
            "Freeze a searched or retrained model (.keras) into "
            "<export-base>/<name>/<version>/ for TF Serving. With --vocab, "
            "the vocabulary's fields take raw values mapped exactly as the "
            "loader maps them (unseen -> 0 = OOV, missing -> 1)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("model", help="searched or retrained model (.keras file)")
    parser.add_argument("--export-base", default="exports", help="base directory")
    parser.add_argument("--name", default="dimgrow", help="model name")
    parser.add_argument("--version", type=int, default=None,
                        help="version number (None: newest + 1)")
    parser.add_argument(
        "--vocab", default=None, metavar="VOCABULARY.json",
        help="the vocabulary.json written by `dimgrow search`/`retrain` on a "
             "dataset spec (or Vocabulary.save): its fields take raw values")
    parser.add_argument(
        "--result", default=None, metavar="SEARCH_RESULT.json",
        help="searched models: export the final dims of this search result "
             f"(None: {RESULT_FILE} beside the model if it exists)")
    parser.add_argument(
        "--current-widths", action="store_true",
        help="searched models: export the last-step widths (exact fold), "
             "not the search result's final dims")
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
        help="the row --predict answers, e.g. '{\"user\": \"ann\", \"item\": 4}'; "
             "null = missing (None: the first value or id 0 of every field)",
    )
    return parser


def run(args):
    """Runs `dimgrow export`; returns the exit status.

    Every input (model, vocabulary, search result, the `--row`) is checked
    before anything is written: a failed command leaves no version.
    """
    if not os.path.isfile(args.model):
        return _fail(f"{args.model!r} is not a file")
    row = None
    try:
        if args.row is not None:
            row = json.loads(args.row)
            if not isinstance(row, dict):
                raise ValueError("--row takes one JSON object {field: value}")
    except ValueError as err:
        return _fail(str(err))
    import keras

    import dimgrow_tf  # noqa: F401  (registers the layers for loading)
    from dimgrow_tf.export import export_utils as eu
    from dimgrow_tf.export.compact_model import build_compact
    from dimgrow_tf.export.export_saved_model import export_saved_model
    from dimgrow_tf.export.fold_utils import find_embedding_layer
    from dimgrow_tf.export.raw_features import field_kinds
    from dimgrow_tf.layers.dimgrow_embedding import DimGrowEmbedding
    from dimgrow_tf.models.search_result import SearchResult

    try:
        model = keras.saving.load_model(args.model, compile=False)
        searched = isinstance(find_embedding_layer(model), DimGrowEmbedding)
        result_path = _result_path(args, searched)
        result = SearchResult.load(result_path) if result_path else None
        _, folded = build_compact(model, args.prune_gates, result)
        vocabulary = eu.check_vocabulary(args.vocab, folded.fields, folded.dropped)
        tokenizers = eu.check_tokenizers(None, folded.fields, folded.dropped, vocabulary)
        kinds = field_kinds(folded.fields, vocabulary, tokenizers)
        multi = {f.name for f in folded.fields if f.multivalent and kinds[f.name] != "text"}
        if row is None:
            row = default_row(folded.fields, kinds, vocabulary, multi)
        row = check_row(row, kinds, folded.dropped, multi)
        path = export_saved_model(
            model, args.export_base, model_name=args.name, version=args.version,
            vocabulary=vocabulary, prune_gates=args.prune_gates,
            warmup=not args.no_warmup, result=result,
        )
    except (OSError, ValueError, TypeError, KeyError, ImportError) as err:
        return _fail(str(err))
    with open(os.path.join(path, "assets.extra", "dimgrow_export.json")) as fh:
        meta = json.load(fh)
    dims = ", ".join(f"{f['name']}={f['dim']}" for f in meta["fields"])
    print(f"Exported {meta['source']} model to {path} ({dims}; "
          f"dropped: {', '.join(meta['dropped_fields']) or 'none'})")
    print(f"Widths: {meta['widths']} ({meta['widths_reason']}"
          + (f"; from {result_path}" if result_path else "") + ")")
    if args.predict or args.row is not None:
        print(json.dumps(predict_one(path, row)))
    return 0


def _result_path(args, searched):
    if not searched:
        if args.result:
            raise ValueError("--result applies to searched models; this model "
                             "has fixed widths.")
        return None
    if args.current_widths or args.prune_gates:
        if args.result:
            raise ValueError("--result cannot be combined with --current-widths "
                             "or --prune-gates.")
        return None
    if args.result:
        return args.result
    beside = os.path.join(os.path.dirname(os.path.abspath(args.model)), RESULT_FILE)
    return beside if os.path.isfile(beside) else None


def default_row(fields, kinds, vocabulary, multivalent=()):
    """The row `--predict` answers without `--row`: the first value (or id
    0) of every field; a list of it for a multi-valent field, a text for
    a text field."""
    row = {}
    for f in fields:
        values = vocabulary.values(f.name) if kinds[f.name] != "id" else []
        if kinds[f.name] == "text":
            value = " ".join(values[:2]) or "text"
        else:
            value = values[0] if values else 0
            value = int(value) if kinds[f.name] == "int" else value
        row[f.name] = [value] if f.name in multivalent else value
    return row


def check_row(row, kinds, dropped=(), multivalent=()):
    """Checks a `--row` against the export's fields; returns the row for them.

    A multi-valent field (named in `multivalent`) takes a list of values, a
    text field one string.

    Raises:
        ValueError: naming the missing and the extra fields.
        TypeError: a value of the wrong kind (`null` means missing).
    """
    from dimgrow_tf.export.request_utils import check_fields

    names = [n for n in row if n not in dropped]
    check_fields(names, kinds, what="The export")
    for name, kind in kinds.items():
        value = row[name]
        want = str if kind in ("string", "text") else int
        values = value if name in multivalent and isinstance(value, list) else [value]
        if any(v is not None and (isinstance(v, bool) or not isinstance(v, want))
               for v in values):
            dtype = "string" if want is str else "int64"
            if kind == "text":
                what = "one string (a text)"
            elif name in multivalent:
                what = f"{dtype} values (a list)"
            elif isinstance(value, list):
                what = f"one {dtype} value, not a list"
            else:
                what = f"{dtype} values"
            raise TypeError(f"Field {name!r} takes {what} (or null for missing); "
                            f"got {value!r}.")
    return {name: [row[name]] if name in multivalent and row[name] is not None
            and not isinstance(row[name], list) else row[name] for name in kinds}


def predict_one(path, row):
    """Loads the export at `path` and answers one checked row.

    A row without missing values goes to `serving_default`, one with `null`
    values to `examples` as a `tf.Example` without those features (the
    missing id; so does an empty list of a multi-valent field). Returns
    `{"request", "signature", "probability"}`.
    """
    import tensorflow as tf

    from dimgrow_tf.export.request_utils import make_example

    loaded = tf.saved_model.load(path)
    if any(v is None or v == [] for v in row.values()):
        signature = "examples"
        serialized = tf.constant([make_example(row).SerializeToString()])
        prob = loaded.signatures[signature](examples=serialized)["probability"]
    else:
        signature = "serving_default"
        tensors = {k: tf.constant([v], tf.string if _is_text(v) else tf.int64)
                   for k, v in row.items()}
        prob = loaded.signatures[signature](**tensors)["probability"]
    return {"request": row, "signature": signature,
            "probability": float(prob.numpy()[0])}


def _is_text(value):
    return isinstance(value, str) or (
        isinstance(value, list) and any(isinstance(v, str) for v in value))


def _fail(message):
    print(f"dimgrow: error: {message}", file=sys.stderr)
    return 2
