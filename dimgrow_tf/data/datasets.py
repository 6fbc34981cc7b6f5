"""tf.data helpers and the loader of the shared evaluation splits."""

import json
import os

import numpy as np
import tensorflow as tf

from dimgrow_tf.field_config import FieldConfig


def to_dataset(features, labels, batch_size, shuffle=False, seed=0):
    """A batched `tf.data.Dataset` of `(features dict, labels)`."""
    ds = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    if shuffle:
        ds = ds.shuffle(min(len(labels), 100_000), seed=seed,
                        reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_split_dir(path):
    """Loads a split directory: `{train,valid,test}.csv` plus `stats.json`.

    Each CSV has a header, a `label` column (0/1) and one integer id column
    per field; `stats.json` holds `fields` and `vocab` (see
    `shared/data/splits/README.md`). Ids are checked against the vocab.

    Returns:
        `(fields, splits)`: list of FieldConfig (width 1) and a dict
        `{split: (features dict, labels)}`.
    """
    with open(os.path.join(path, "stats.json")) as fh:
        stats = json.load(fh)
    fields = [FieldConfig(n, int(stats["vocab"][n])) for n in stats["fields"]]
    splits = {}
    for split in ("train", "valid", "test"):
        file = os.path.join(path, f"{split}.csv")
        with open(file) as fh:
            header = fh.readline().strip().split(",")
        expected = ["label"] + [f.name for f in fields]
        if header != expected:
            raise ValueError(f"{file}: header {header} != expected {expected}")
        table = np.loadtxt(file, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
        labels = table[:, 0].astype("float32")
        if not np.isin(labels, (0.0, 1.0)).all():
            raise ValueError(f"{file}: labels must be 0 or 1.")
        features = {}
        for j, f in enumerate(fields, start=1):
            col = table[:, j]
            bad = np.flatnonzero((col < 0) | (col >= f.vocab_size))
            if bad.size:
                raise ValueError(
                    f"{file}, line {bad[0] + 2}, field {f.name!r}: id {col[bad[0]]} "
                    f"outside [0, {f.vocab_size})."
                )
            features[f.name] = col.astype("int32")
        splits[split] = (features, labels)
    return fields, splits
