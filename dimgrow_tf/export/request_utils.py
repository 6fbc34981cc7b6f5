"""The one builder of TF Serving requests: clients, warmup and the CLI.

`serving/` (the REST and gRPC clients) and the exporter's warmup file
build their requests here, so what is replayed at load time is what the
clients send. Features are given either as rows (a list of
`{field: value}` dicts) or as columns (a dict `{field: list or 1-D
array}`). Values are integer ids or strings, or `None` for a missing value
(only in `tf.Example`s, where the feature is then left out); an optional
schema `{field: "int64" | "string"}` (the `dtype` entries of an export's
`assets.extra/dimgrow_export.json`, see `load_schema`) checks them before
anything is sent.
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
        kind = str if want == "string" else int
        bad = [v for v in values if v is not None and not isinstance(v, kind)]
        if bad:
            raise TypeError(
                f"Field {name!r} takes {want} values; received {bad[0]!r} "
                f"({type(bad[0]).__name__})."
            )


def dtype_of(values):
    """`"string"` or `"int64"`: the tensor type a column is sent as."""
    present = [v for v in values if v is not None]
    return "string" if present and isinstance(present[0], str) else "int64"


def make_example(row):
    """A `tf.train.Example` from `{field: int, str or None}`: integers go
    into `int64_list`, strings (UTF-8) into `bytes_list`, and `None`
    (missing) leaves the feature out."""
    import tensorflow as tf

    feature = {}
    for name, value in row.items():
        if value is None:
            continue
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
    if value is None:
        return None
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
    """A `PredictRequest` with one `(batch,)` tensor per field.

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
            values, dtype=tf.string if dtype == "string" else tf.int64))
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
