"""Feature handling shared by the REST and gRPC clients.

Features are given either as rows (a list of `{field: value}` dicts) or as
columns (a dict `{field: list or 1-D array}`). Values are integer ids or
strings; an optional schema `{field: "int64" | "string"}` (the `dtype`
entries of an export's `assets.extra/dimgrow_export.json`, see
`load_schema`) checks them before anything is sent.
"""

import json
import os

import numpy as np

DTYPES = ("int64", "string")


def load_schema(export_dir):
    """`{field: "int64" | "string"}` of an export's `serving_default`."""
    path = os.path.join(export_dir, "assets.extra", "dimgrow_export.json")
    with open(path) as fh:
        meta = json.load(fh)
    return {f["name"]: f["dtype"] for f in meta["fields"]}


def to_columns(features, schema=None):
    """Returns `{field: list of int or str}` from rows or columns.

    Raises:
        ValueError: columns of different lengths, a row missing a field,
            or (with `schema`) a field missing or unknown.
        TypeError: a value that is neither an integer nor a string, or
            (with `schema`) a value of the wrong kind for its field.
    """
    if isinstance(features, dict):
        columns = {k: _as_list(k, v) for k, v in features.items()}
    elif isinstance(features, (list, tuple)):
        if not features or not all(isinstance(r, dict) for r in features):
            raise ValueError("Rows must be a non-empty list of {field: value} dicts.")
        names = list(features[0])
        for i, row in enumerate(features):
            if set(row) != set(names):
                raise ValueError(
                    f"Row {i} has fields {sorted(row)}, row 0 has {sorted(names)}."
                )
        columns = {n: [row[n] for row in features] for n in names}
    else:
        raise TypeError(
            "Features must be rows (list of dicts) or columns (dict of lists); "
            f"received {type(features).__name__}."
        )
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(
            f"All fields need the same number of values: "
            f"{ {k: len(v) for k, v in columns.items()} }."
        )
    columns = {k: [_plain(k, x) for x in v] for k, v in columns.items()}
    if schema is not None:
        check_schema(columns, schema)
    return columns


def check_schema(columns, schema):
    """Checks field names and value kinds against `schema`."""
    missing = sorted(set(schema) - set(columns))
    unknown = sorted(set(columns) - set(schema))
    if missing or unknown:
        raise ValueError(
            f"The model takes fields {sorted(schema)}; missing {missing}, "
            f"unknown {unknown}."
        )
    for name, values in columns.items():
        want = schema[name]
        if want not in DTYPES:
            raise ValueError(f"Schema dtype of {name!r} must be one of {DTYPES}.")
        kind = str if want == "string" else int
        bad = [v for v in values if not isinstance(v, kind)]
        if bad:
            raise TypeError(
                f"Field {name!r} takes {want} values; received {bad[0]!r} "
                f"({type(bad[0]).__name__})."
            )


def dtype_of(values):
    """`"string"` or `"int64"`: the tensor type a column is sent as."""
    return "string" if values and isinstance(values[0], str) else "int64"


def make_example(row):
    """A `tf.train.Example` from `{field: int or str}`: integers go into
    `int64_list`, strings (UTF-8) into `bytes_list`."""
    import tensorflow as tf

    feature = {}
    for name, value in row.items():
        if isinstance(value, str):
            feature[name] = tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[value.encode("utf-8")])
            )
        else:
            feature[name] = tf.train.Feature(
                int64_list=tf.train.Int64List(value=[int(value)])
            )
    return tf.train.Example(features=tf.train.Features(feature=feature))


def to_rows(columns):
    """`[{field: value}, ...]` from `{field: list}`."""
    names = list(columns)
    size = len(columns[names[0]])
    return [{n: columns[n][i] for n in names} for i in range(size)]


def _as_list(name, values):
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"Field {name!r} needs one value per row (a 1-D list); received "
            f"shape {array.shape}."
        )
    return array.tolist()


def _plain(name, value):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Field {name!r}: booleans are not ids ({value!r}).")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(
        f"Field {name!r} takes integer ids or strings; received {value!r} "
        f"({type(value).__name__})."
    )
