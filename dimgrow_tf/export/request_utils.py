"""The one builder of TF Serving requests: clients, warmup and the CLI.

`serving/` (the REST and gRPC clients) and the exporter's warmup file
build their requests here, so what is replayed at load time is what the
clients send. Features are given either as rows (a list of
`{field: value}` dicts) or as columns (a dict `{field: list or 1-D
array}`). Values are integer ids or strings, or `None` for a missing value
(only in `tf.Example`s, where the feature is then left out); an optional
schema `{field: "int64" | "string" | "int64_list" | "string_list"}` (the
`dtype` entries of an export's `assets.extra/dimgrow_export.json`, see
`load_schema`) checks them before anything is sent.

A multi-valent field (schema `*_list`, or without a schema a column holding
lists) takes a list of values per row. `to_columns` pads its lists to one
length with `-1` (integers) or `""` (strings), which the export drops, so a
column is a `(batch, length)` tensor in a Predict request; `None` or an
empty list is a row without values (missing). In a `tf.Example` the list
goes into one `int64_list` / `bytes_list` feature.
"""

import json
import os

import numpy as np

DTYPES = ("int64", "string", "int64_list", "string_list")
LIST_DTYPES = ("int64_list", "string_list")
PADDING = {"int64": -1, "string": ""}


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
    lists = {k: v in LIST_DTYPES for k, v in (schema or {}).items()}
    if isinstance(features, dict):
        columns = {k: _as_list(k, v, lists.get(k)) for k, v in features.items()}
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
    for name, values in columns.items():
        if lists.get(name) or any(isinstance(v, list) for v in values):
            columns[name] = pad_lists(values, (schema or {}).get(name))
    return columns


def pad_lists(values, dtype=None):
    """Rows of a multi-valent column, padded to one length (>= 1).

    `None` and scalars count as an empty and a one-value list. The padding
    is `-1` for integers and `""` for strings (`dtype` `"int64_list"` /
    `"string_list"`, else taken from the values); the export drops it.
    """
    rows = [[] if v is None else (list(v) if isinstance(v, list) else [v]) for v in values]
    if dtype is None:
        dtype = dtype_of([x for r in rows for x in r])
    pad = PADDING[dtype.replace("_list", "")]
    length = max([len(r) for r in rows] + [1])
    return [r + [pad] * (length - len(r)) for r in rows]


def check_fields(names, expected, what="The model"):
    """Raises a `ValueError` naming the missing and the extra fields."""
    missing = sorted(set(expected) - set(names))
    extra = sorted(set(names) - set(expected))
    if missing or extra:
        raise ValueError(
            f"{what} takes fields {sorted(expected)}; missing {missing}, "
            f"extra {extra}."
        )


def check_schema(columns, schema):
    """Checks field names and value kinds against `schema`."""
    check_fields(columns, schema)
    for name, values in columns.items():
        want = schema[name]
        if want not in DTYPES:
            raise ValueError(f"Schema dtype of {name!r} must be one of {DTYPES}.")
        kind = str if want.startswith("string") else int
        rows = [i for i, v in enumerate(values) if isinstance(v, list)]
        if want not in LIST_DTYPES and rows:
            raise ValueError(
                f"Field {name!r} needs one value per row (a 1-D list); received "
                f"a list in row {rows[0]}: {values[rows[0]]!r}."
            )
        flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
        bad = [v for v in flat if v is not None and not isinstance(v, kind)]
        if bad:
            raise TypeError(
                f"Field {name!r} takes {want} values; received {bad[0]!r} "
                f"({type(bad[0]).__name__})."
            )


def dtype_of(values):
    """`"string"` or `"int64"`: the tensor type a column is sent as."""
    present = [x for v in values if v is not None
               for x in (v if isinstance(v, list) else [v])]
    return "string" if present and isinstance(present[0], str) else "int64"


def make_example(row):
    """A `tf.train.Example` from `{field: int, str, list or None}`: integers
    go into `int64_list`, strings (UTF-8) into `bytes_list` (a list: all its
    values), and `None` or an empty list (missing) leaves the feature out."""
    import tensorflow as tf

    feature = {}
    for name, value in row.items():
        if value is None or (isinstance(value, list) and not value):
            continue
        if isinstance(value, list):
            if any(isinstance(v, str) for v in value):
                feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[v.encode("utf-8") for v in value]))
            else:
                feature[name] = tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[int(v) for v in value]))
        elif isinstance(value, str):
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


def _as_list(name, values, multivalent=None):
    """A column as a list; `multivalent`: from a schema, or None: rows that
    hold lists of other than one value make the column multi-valent."""
    if not isinstance(values, (list, tuple)):
        values = np.asarray(values).tolist()
    values = [v.tolist() if isinstance(v, np.ndarray) else
              list(v) if isinstance(v, tuple) else v for v in values]
    if multivalent is None:
        multivalent = any(isinstance(v, list) and len(v) != 1 for v in values)
    if multivalent or not any(isinstance(v, list) for v in values):
        return values
    if all(isinstance(v, list) and len(v) == 1 for v in values):
        return [v[0] for v in values]
    raise ValueError(
        f"Field {name!r} needs one value per row (a 1-D list); received a "
        "list in a row."
    )


def _plain(name, value):
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(name, v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Field {name!r}: booleans are not ids ({value!r}).")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError(
        f"Field {name!r} takes integer ids, strings or None (missing); received {value!r} "
        f"({type(value).__name__})."
    )


def model_spec(request, model_name, signature_name, version=None):
    """Fills `request.model_spec`."""
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    return request


def predict_request(columns, model_name, signature_name="serving_default",
                    version=None, schema=None):
    """A `PredictRequest` with one `(batch,)` tensor per field (a
    multi-valent field: `(batch, length)`, padded by `to_columns`).

    The tensor type is the schema's dtype, or taken from the values.
    Missing values (`None`) cannot be sent as tensors: send them as
    `tf.Example`s (`examples_predict_request`), where they are left out.
    """
    import tensorflow as tf

    predict_pb2 = _apis().predict_pb2
    request = model_spec(predict_pb2.PredictRequest(), model_name, signature_name,
                         version)
    for name, values in columns.items():
        if any(v is None for v in values):
            raise ValueError(
                f"Field {name!r} has a missing value (None): a tensor cannot "
                "hold one. Send the rows as tf.Examples (the `examples`, "
                "`classify` or `regress` signatures), which leave it out."
            )
        dtype = schema[name] if schema else dtype_of(values)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(
            values, dtype=tf.string if dtype.startswith("string") else tf.int64))
    return request


def examples_predict_request(rows, model_name, signature_name="examples",
                             version=None):
    """A `PredictRequest` with serialized `tf.Example`s in `examples`."""
    import tensorflow as tf

    predict_pb2 = _apis().predict_pb2
    request = model_spec(predict_pb2.PredictRequest(), model_name, signature_name,
                         version)
    serialized = [make_example(r).SerializeToString() for r in rows]
    request.inputs["examples"].CopyFrom(tf.make_tensor_proto(serialized, dtype=tf.string))
    return request


def classify_request(rows, model_name, signature_name="classify", version=None):
    """A `ClassificationRequest` with one `tf.Example` per row."""
    request = _apis().classification_pb2.ClassificationRequest()
    model_spec(request, model_name, signature_name, version)
    request.input.example_list.examples.extend(make_example(r) for r in rows)
    return request


def regress_request(rows, model_name, signature_name="regress", version=None):
    """A `RegressionRequest` with one `tf.Example` per row."""
    request = _apis().regression_pb2.RegressionRequest()
    model_spec(request, model_name, signature_name, version)
    request.input.example_list.examples.extend(make_example(r) for r in rows)
    return request


def _apis():
    try:
        from tensorflow_serving import apis
        from tensorflow_serving.apis import classification_pb2  # noqa: F401
        from tensorflow_serving.apis import predict_pb2  # noqa: F401
        from tensorflow_serving.apis import regression_pb2  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "Building TF Serving request protos needs "
            "`pip install tensorflow-serving-api` (the `serving` extra of "
            "dimgrow-tf)."
        ) from err
    return apis
