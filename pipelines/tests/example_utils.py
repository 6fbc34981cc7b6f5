"""Helpers shared by the pipeline tests."""

import csv
import re

import tensorflow as tf

_TABLE_NAME = re.compile(r"folded_embedding/(.+)_embedding/embeddings")

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


def inference_shapes(saved_model_dir):
    """`{variable name: shape}` of the variables an export's graph reads."""
    loaded = tf.saved_model.load(saved_model_dir)
    return {v.name.split(":")[0]: v.shape.as_list() for v in loaded.inference_variables}


def table_widths(saved_model_dir):
    """`{field: embedding width}` of an export's tables."""
    widths = {}
    for name, shape in inference_shapes(saved_model_dir).items():
        match = _TABLE_NAME.search(name)
        if match:
            widths[match.group(1)] = shape[1]
    return widths
