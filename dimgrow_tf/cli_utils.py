"""Data loading, printing and writing helpers of the `dimgrow` command line."""

import argparse
import os

from dimgrow_tf.io_utils import write_json_atomic


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_float(text):
    """argparse type: a float >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def dims_table(result):
    """A text table of a SearchResult: field, vocab, final dim, gates."""
    lines = [f"{'field':<24}{'vocab':>10}{'dim':>6}  gates at the best epoch"]
    for f in result.fields:
        gates = " ".join(f"{g:.2f}" for g in result.gates.get(f.name, []))
        lines.append(f"{f.name:<24}{f.vocab_size:>10}{f.dim:>6}  {gates}")
    n = len(result.fields)
    vocab = sum(f.vocab_size for f in result.fields)
    lines.append(
        f"total dims {result.total_dims} (uniform-16: {16 * n}); embedding params "
        f"{result.embedding_params:,} (uniform-16: {16 * vocab:,})"
    )
    return "\n".join(lines)


def metrics_line(metrics, baseline_dim=0):
    m = metrics["dimgrow"]
    line = f"test AUC {m['auc']:.4f} logloss {m['logloss']:.4f}"
    base = metrics.get(f"uniform{baseline_dim}") if baseline_dim else None
    if base:
        line += (f" | uniform-{baseline_dim} AUC {base['auc']:.4f} "
                 f"logloss {base['logloss']:.4f}")
    searched = metrics.get("searched_folded")
    if searched:
        line += f" | searched model, no retrain: AUC {searched['auc']:.4f}"
    return line


def write_json(path, obj):
    """Writes JSON atomically (temporary file, then rename)."""
    write_json_atomic(path, obj, indent=1)


def load_data(path, out, vocabulary=None):
    """Returns `(fields, splits)` for a split directory or a spec JSON.

    A spec's files are loaded with `load_arrays` (list and text columns
    included) and its `Vocabulary` (text fields: their tokenizers) is
    written to `out/vocabulary.json`. `vocabulary`: a saved Vocabulary to
    encode a spec's files with (the search's, so that retrain sees the same
    ids), unless the spec names one.
    """
    if os.path.isdir(path):
        from dimgrow_tf.data.datasets import load_split_dir

        return load_split_dir(path)
    if path.endswith(".json") and os.path.isfile(path):
        import dataclasses

        from dimgrow_tf.data.dataset_spec import DatasetSpec
        from dimgrow_tf.data.load_dataset import load_arrays

        spec = DatasetSpec.load(path)
        if vocabulary and spec.vocabulary is None:
            print(f"Encoding with {vocabulary}")
            spec = dataclasses.replace(spec, vocabulary=vocabulary)
        data = load_arrays(spec)
        for name, stats in data.stats.items():
            print(f"{name}: {stats.summary()}")
        os.makedirs(out, exist_ok=True)
        data.vocabulary.save(os.path.join(out, "vocabulary.json"))
        return data.fields, data.splits
    raise ValueError(f"{path!r} is neither a split directory nor a dataset spec .json")
