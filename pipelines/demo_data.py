"""Writes a small synthetic CTR dataset in the pipeline's CSV layout."""

import os

import numpy as np

from dimgrow_tf.data.synthetic import make_synthetic_ctr
from dimgrow_tf.data.synthetic import split_rows

STRING_FIELD = "signal_0"
SPLIT_FILES = ("train.csv", "valid.csv", "test.csv")


def write_demo_csvs(directory, num_rows=600, vocab_size=20, seed=0):
    """Writes `train.csv`, `valid.csv`, `test.csv` (80/10/10) to `directory`.

    Columns are `label`, two signal fields, one noise field (see
    `make_synthetic_ctr`). `signal_0` holds strings (`"v<id>"`) so the
    Transform step has raw values to map; the others hold integers.

    Returns:
        The list of field names, in column order.
    """
    features, labels, fields = make_synthetic_ctr(
        num_rows=num_rows, signal_fields=2, noise_fields=1,
        vocab_size=vocab_size, seed=seed,
    )
    names = [f.name for f in fields]
    os.makedirs(directory, exist_ok=True)
    for file_name, (x, y) in zip(
        SPLIT_FILES, split_rows(features, labels, seed=seed)
    ):
        columns = [y.astype(np.int64).astype(str)]
        for name in names:
            prefix = "v" if name == STRING_FIELD else ""
            columns.append(np.char.add(prefix, x[name].astype(str)))
        rows = np.stack(columns, axis=1)
        with open(os.path.join(directory, file_name), "w") as fh:
            fh.write(",".join(["label"] + names) + "\n")
            fh.writelines(",".join(row) + "\n" for row in rows)
    return names
