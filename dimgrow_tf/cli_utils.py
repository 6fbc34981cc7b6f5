"""Printing and writing helpers of the `dimgrow` command line."""

from dimgrow_tf.io_utils import write_json_atomic


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
