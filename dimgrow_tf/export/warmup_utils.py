"""Warmup requests (`assets.extra/tf_serving_warmup_requests`)."""

import posixpath

import numpy as np
import tensorflow as tf

from dimgrow_tf.export import export_utils as eu
from serving.request_utils import make_example

WARMUP_BATCH_SIZES = (1, 8)


def sample_rows(fields, vocabularies, num_rows=8, features=None):
    """Raw feature rows for warmup: `{field: list of num_rows values}`.

    Args:
        fields: FieldConfigs of the export's inputs.
        vocabularies: dict `{field: [str]}` of the string fields.
        num_rows: int. Rows to return. Defaults to `8`.
        features: optional dict `{field: values}` of real rows (e.g. a
            slice of the validation data; extra keys are ignored). Fields
            it lacks get ids spread over the vocabulary.
    """
    rows = {}
    for f in fields:
        if features is not None and f.name in features:
            values = list(np.asarray(features[f.name]).reshape(-1)[:num_rows])
            if not values:
                raise ValueError(f"`warmup_features[{f.name!r}]` is empty.")
            values = [values[i % len(values)] for i in range(num_rows)]
        else:
            size = len(vocabularies[f.name]) if f.name in vocabularies else f.vocab_size
            ids = [(i * 7919) % size for i in range(num_rows)]
            values = ids
            if f.name in vocabularies:
                values = [vocabularies[f.name][i] for i in ids]
        if f.name in vocabularies:
            rows[f.name] = [_text(v) for v in values]
        else:
            rows[f.name] = [int(v) for v in values]
    return rows


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def write_warmup_requests(export_dir, model_name, rows, batch_sizes=WARMUP_BATCH_SIZES):
    """Writes one PredictionLog per signature and batch size.

    For each batch size `b` (rows repeat when `b` exceeds them): a Predict
    request on `serving_default` (one tensor per field) and on `examples`,
    a Classify request on `classify` and a Regress request on `regress`.

    Args:
        export_dir: str. The SavedModel directory.
        model_name: str. Name put in each request's `model_spec`.
        rows: dict `{field: list of values}` (see `sample_rows`).
        batch_sizes: tuple of int. Defaults to `(1, 8)`.

    Returns:
        The path of the written file.
    """
    try:
        from tensorflow_serving.apis import classification_pb2
        from tensorflow_serving.apis import predict_pb2
        from tensorflow_serving.apis import prediction_log_pb2
        from tensorflow_serving.apis import regression_pb2
    except ImportError as err:
        raise ImportError(
            "Writing TF Serving warmup requests needs the client protos: "
            "`pip install tensorflow-serving-api` (the `serving` extra of "
            "dimgrow-tf), or pass `warmup=False`."
        ) from err
    names = list(rows)
    num_rows = len(rows[names[0]])
    logs = []
    for size in batch_sizes:
        batch = {n: [rows[n][i % num_rows] for i in range(size)] for n in names}
        examples = [
            make_example({n: batch[n][i] for n in names}) for i in range(size)
        ]
        predict = predict_pb2.PredictRequest()
        predict.model_spec.name = model_name
        predict.model_spec.signature_name = eu.SERVING_DEFAULT
        for n in names:
            dtype = tf.string if isinstance(batch[n][0], str) else tf.int64
            predict.inputs[n].CopyFrom(tf.make_tensor_proto(batch[n], dtype=dtype))
        logs.append(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=predict)))
        by_examples = predict_pb2.PredictRequest()
        by_examples.model_spec.name = model_name
        by_examples.model_spec.signature_name = eu.EXAMPLES
        by_examples.inputs[eu.EXAMPLES].CopyFrom(tf.make_tensor_proto(
            [e.SerializeToString() for e in examples], dtype=tf.string))
        logs.append(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=by_examples)))
        classify = classification_pb2.ClassificationRequest()
        classify.model_spec.name = model_name
        classify.model_spec.signature_name = eu.CLASSIFY
        classify.input.example_list.examples.extend(examples)
        logs.append(prediction_log_pb2.PredictionLog(
            classify_log=prediction_log_pb2.ClassifyLog(request=classify)))
        regress = regression_pb2.RegressionRequest()
        regress.model_spec.name = model_name
        regress.model_spec.signature_name = eu.REGRESS
        regress.input.example_list.examples.extend(examples)
        logs.append(prediction_log_pb2.PredictionLog(
            regress_log=prediction_log_pb2.RegressLog(request=regress)))
    directory = posixpath.join(export_dir, eu.ASSETS_EXTRA)
    tf.io.gfile.makedirs(directory)
    path = posixpath.join(directory, eu.WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path
