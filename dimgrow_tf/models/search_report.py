"""A readable report of a search: timeline of widths and table memory."""

import json
import os

from dimgrow_tf.models.search_result import SearchResult


def search_timeline(result):
    """Per-field widths and table bytes after every resize event.

    Rebuilt from `result.history`: widths start at each field's first
    recorded `from` width (or its searched width if it never changed).

    Returns:
        list of dict `{step, dims, total_dims, table_bytes}`, the first entry
        at step 0.
    """
    vocab = {f.name: f.vocab_size for f in result.fields}
    dims = {}
    for f in result.fields:
        first = next((e for e in result.history if e["field"] == f.name), None)
        dims[f.name] = first["from"] if first else result.searched_dims.get(f.name, f.dim)

    def entry(step):
        return {
            "step": step,
            "dims": dict(dims),
            "total_dims": sum(dims.values()),
            "table_bytes": sum(4 * vocab[n] * d for n, d in dims.items()),
        }

    timeline = [entry(0)]
    for event in result.history:
        dims[event["field"]] = event["to"]
        if timeline[-1]["step"] == event["step"]:
            timeline[-1] = entry(event["step"])
        else:
            timeline.append(entry(event["step"]))
    return timeline


def write_search_report(result, out_dir, plot=True):
    """Writes `search_report.json` (and `dims_over_steps.png`) to `out_dir`.

    Args:
        result: a `SearchResult` or the path of its JSON.
        out_dir: str. Created if missing.
        plot: bool. Also draw widths and table memory over steps (needs
            matplotlib). Defaults to `True`.

    Returns:
        dict of the written paths.
    """
    if not isinstance(result, SearchResult):
        result = SearchResult.load(result)
    os.makedirs(out_dir, exist_ok=True)
    timeline = search_timeline(result)
    report = {
        "final_dims": result.dims,
        "total_dims": result.total_dims,
        "embedding_params": result.embedding_params,
        "best_epoch": result.best_epoch,
        "monitor": result.monitor,
        "best_value": result.best_value,
        "resize_events": result.history,
        "timeline": timeline,
    }
    paths = {"json": os.path.join(out_dir, "search_report.json")}
    with open(paths["json"], "w") as fh:
        json.dump(report, fh, indent=1)
    if plot:
        paths["png"] = os.path.join(out_dir, "dims_over_steps.png")
        _plot(result, timeline, paths["png"])
    return paths


def _plot(result, timeline, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("Plots need matplotlib (pip install matplotlib).") from err
    last = max(timeline[-1]["step"], 1)
    steps = [t["step"] for t in timeline] + [last]
    fig, (ax, mem) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for f in result.fields:
        ax.step(steps, [t["dims"][f.name] for t in timeline] + [timeline[-1]["dims"][f.name]],
                where="post", label=f"{f.name} (final {f.dim})")
    ax.set_ylabel("width")
    ax.set_title("DimGrow: per-field widths over training steps")
    ax.legend(fontsize=7, ncol=2)
    mem.step(steps, [t["table_bytes"] / 2**20 for t in timeline] + [timeline[-1]["table_bytes"] / 2**20],
             where="post")
    mem.set_ylabel("embedding tables (MiB)")
    mem.set_xlabel("training step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
