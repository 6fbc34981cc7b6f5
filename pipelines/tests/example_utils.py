"""Helpers shared by the pipeline tests."""

import csv
import re

import tensorflow as tf

_TABLE_KEY = re.compile(r"embeddings/([^/]+)/_embeddings/\.ATTRIBUTES")

# Small enough for seconds of training, large enough for a real signal.
HYPERPARAMETERS = {
    "epochs": 3,
    "batch_size": 64,
    "learning_rate": 0.02,
    "output_dim": 8,
    "check_every": 5,
    "alpha": 0.0,
    "max_dim": 3,
}


def read_rows(path):
    """CSV rows as dicts; digit strings become ints, the rest bytes."""
    with open(path) as fh:
        return [
            {k: int(v) if v.lstrip("-").isdigit() else v.encode() for k, v in row.items()}
            for row in csv.DictReader(fh)
        ]


def to_example(row):
    """A serialized `tf.Example` with one value per column of `row`."""
    feature = {}
    for name, value in row.items():
        if isinstance(value, bytes):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(
        features=tf.train.Features(feature=feature)
    ).SerializeToString()


def table_widths(saved_model_dir):
    """`{field: embedding width}` read from a SavedModel's variables."""
    widths = {}
    for key, shape in tf.train.list_variables(f"{saved_model_dir}/variables/variables"):
        match = _TABLE_KEY.search(key)
        if match:
            widths[match.group(1)] = shape[1]
    return widths
