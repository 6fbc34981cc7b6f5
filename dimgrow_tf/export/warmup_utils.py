"""Warmup requests (`assets.extra/tf_serving_warmup_requests`)."""

import posixpath

import numpy as np
import tensorflow as tf

from dimgrow_tf.export import export_utils as eu
from dimgrow_tf.export import request_utils as ru
from dimgrow_tf.export.raw_features import ID
from dimgrow_tf.export.raw_features import STRING
from dimgrow_tf.export.raw_features import TEXT

WARMUP_BATCH_SIZES = (1, 8)


def sample_rows(fields, kinds, vocabulary=None, num_rows=8, features=None):
    """Raw feature rows for warmup: `{field: list of num_rows values}`.

    Args:
        fields: FieldConfigs of the export's inputs.
        kinds: dict `{field: "string" | "int" | "id" | "text"}`
            (`raw_features`).
        vocabulary: Vocabulary or None: values of the non-`"id"` fields.
        num_rows: int. Rows to return. Defaults to `8`.
        features: optional dict `{field: values}` of real raw rows (e.g. a
            slice of the validation data; extra keys are ignored). Fields
            it lacks get values spread over the vocabulary. Rows of a
            multi-valent field are lists.
    """
    rows = {}
    for f in fields:
        kind = kinds[f.name]
        if features is not None and f.name in features:
            values = _first_rows(features[f.name], num_rows)
            if not values:
                raise ValueError(f"`warmup_features[{f.name!r}]` is empty.")
            values = [values[i % len(values)] for i in range(num_rows)]
        elif kind == TEXT:
            values = [f"warmup text {i}" for i in range(num_rows)]
        else:
            pool = list(range(f.vocab_size)) if kind == ID else vocabulary.values(f.name)
            values = [pool[(i * 7919) % len(pool)] for i in range(num_rows)] if pool \
                else [""] * num_rows
        convert = _text if kind in (STRING, TEXT) else int
        if f.multivalent and kind != TEXT:
            # One to three values per row (a given row keeps its own list).
            rows[f.name] = [
                [convert(x) for x in v] if isinstance(v, (list, tuple, np.ndarray))
                else [convert(values[(i + k) % num_rows]) for k in range(1 + i % 3)]
                for i, v in enumerate(values)
            ]
        else:
            rows[f.name] = [convert(v) for v in values]
    return rows


def _first_rows(column, num_rows):
    if isinstance(column, (list, tuple)):
        return list(column[:num_rows])
    array = np.asarray(column, dtype=object)
    return list(array.reshape(-1)[:num_rows]) if array.ndim < 2 else list(array[:num_rows])


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def write_warmup_requests(export_dir, model_name, rows, schema,
                          batch_sizes=WARMUP_BATCH_SIZES):
    """Writes one PredictionLog per signature and batch size.

    For each batch size `b` (rows repeat when `b` exceeds them): a Predict
    request on `serving_default` (one tensor per field) and on `examples`,
    a Classify request on `classify` and a Regress request on `regress`,
    all built by `request_utils`, as the clients build them.

    Args:
        export_dir: str. The SavedModel directory.
        model_name: str. Name put in each request's `model_spec`.
        rows: dict `{field: list of values}` (see `sample_rows`).
        schema: dict `{field: "int64" | "string" | "int64_list" |
            "string_list"}` (`export_utils.serving_dtypes`).
        batch_sizes: tuple of int. Defaults to `(1, 8)`.

    Returns:
        The path of the written file.
    """
    try:
        from tensorflow_serving.apis import prediction_log_pb2
    except ImportError as err:
        raise ImportError(
            "Writing TF Serving warmup requests needs the client protos: "
            "`pip install tensorflow-serving-api` (the `serving` extra of "
            "dimgrow-tf), or pass `warmup=False`."
        ) from err
    log = prediction_log_pb2
    names = list(rows)
    num_rows = len(rows[names[0]])
    logs = []
    for size in batch_sizes:
        columns = {n: [rows[n][i % num_rows] for i in range(size)] for n in names}
        batch = ru.to_rows(columns)
        columns = {n: ru.pad_lists(v, schema[n]) if schema[n] in ru.LIST_DTYPES else v
                   for n, v in columns.items()}
        requests = [
            ru.predict_request(columns, model_name, eu.SERVING_DEFAULT, schema=schema),
            ru.examples_predict_request(batch, model_name, eu.EXAMPLES),
        ]
        logs += [log.PredictionLog(predict_log=log.PredictLog(request=r)) for r in requests]
        logs.append(log.PredictionLog(classify_log=log.ClassifyLog(
            request=ru.classify_request(batch, model_name, eu.CLASSIFY))))
        logs.append(log.PredictionLog(regress_log=log.RegressLog(
            request=ru.regress_request(batch, model_name, eu.REGRESS))))
    directory = posixpath.join(export_dir, eu.ASSETS_EXTRA)
    tf.io.gfile.makedirs(directory)
    path = posixpath.join(directory, eu.WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for entry in logs:
            writer.write(entry.SerializeToString())
    return path
