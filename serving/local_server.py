"""Answers TF Serving requests from a SavedModel, in process, for checks.

There is no `tensorflow_model_server` binary on the development machines,
so the serving contract is checked by feeding the exact REST bodies and
gRPC request protos the clients send to `LocalServer`, which follows TF
Serving's documented mapping: JSON values are converted to the
signature's dtypes (an integer input rejects floats and strings), row
(`instances`) and columnar (`inputs`) predict bodies, classify/regress
JSON examples become `tf.Example`s (integers -> `int64_list`, decimals ->
`float_list`, strings -> `bytes_list`), gRPC tensors must match the
signature's dtypes, and Classify/Regress require the classify/regress
method names. It is a test double, not a server.

Run `python -m serving.local_server JOB.json OUT.json` to answer a batch
of requests in a fresh process (used by the tests).
"""

import base64
import json
import os
import sys

import numpy as np
import tensorflow as tf

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


class LocalServer:
    """Serves one SavedModel version directory with TF Serving's semantics.

    Args:
        export_dir: str. A `<base>/<name>/<version>` directory.
        model_name: str or None. Name echoed in gRPC responses. Defaults
            to the parent directory's name.

    Example:

    ```python
    server = LocalServer("exports/dimgrow/1")
    server.rest("predict", {"instances": [{"user_id": 3, "item_id": 7}]})
    # {"predictions": [0.31]}
    ```
    """

    def __init__(self, export_dir, model_name=None):
        from tensorflow.core.protobuf import saved_model_pb2

        self.export_dir = export_dir
        parent = os.path.dirname(os.path.abspath(export_dir))
        self.model_name = model_name or os.path.basename(parent)
        base = os.path.basename(os.path.abspath(export_dir))
        self.version = int(base) if base.isdigit() else None
        self.loaded = tf.saved_model.load(export_dir)
        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(export_dir, "saved_model.pb"), "rb") as fh:
            proto.ParseFromString(fh.read())
        self.methods = {
            k: v.method_name for k, v in proto.meta_graphs[0].signature_def.items()
        }

    def signature(self, name, method=None):
        name = name or "serving_default"
        if name not in self.loaded.signatures:
            raise ValueError(f"Serving signature name: {name!r} not found in signature def")
        if method is not None and self.methods.get(name) != method:
            raise ValueError(
                f"Expected signature method_name to be {method}. "
                f"Was: {self.methods.get(name)}"
            )
        return self.loaded.signatures[name]

    def rest(self, verb, body):
        """The JSON reply to `POST ...:<verb>` with `body` (a dict)."""
        try:
            if verb == "predict":
                return self._rest_predict(body)
            if verb in ("classify", "regress"):
                return self._rest_examples(verb, body)
            raise ValueError(f"Unknown verb {verb!r}")
        except (ValueError, TypeError, tf.errors.OpError) as err:
            return {"error": str(err)}

    def _rest_predict(self, body):
        if ("instances" in body) == ("inputs" in body):
            raise ValueError("Request must have exactly one of `instances` or `inputs`.")
        fn = self.signature(body.get("signature_name"))
        specs = fn.structured_input_signature[1]
        if "instances" in body:
            rows = body["instances"]
            if len(specs) == 1 and not any(_is_named(r) for r in rows):
                columns = {next(iter(specs)): rows}
            else:
                columns = {}
                for row in rows:
                    if not isinstance(row, dict) or set(row) != set(specs):
                        raise ValueError(
                            f"Each instance must be an object with keys {sorted(specs)}."
                        )
                    for k, v in row.items():
                        columns.setdefault(k, []).append(v)
        else:
            columns = body["inputs"]
            if not isinstance(columns, dict):
                columns = {next(iter(specs)): columns}
        missing = sorted(set(specs) - set(columns))
        if missing or set(columns) - set(specs):
            raise ValueError(f"Inputs {sorted(columns)} do not match {sorted(specs)}.")
        tensors = {k: _json_tensor(k, columns[k], specs[k].dtype) for k in specs}
        outputs = {k: _to_json(v.numpy()) for k, v in fn(**tensors).items()}
        if "inputs" in body:
            return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
        if len(outputs) == 1:
            return {"predictions": next(iter(outputs.values()))}
        size = len(next(iter(outputs.values())))
        return {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(size)]}

    def _rest_examples(self, verb, body):
        method = CLASSIFY if verb == "classify" else REGRESS
        fn = self.signature(body.get("signature_name"), method)
        context = _json_example(body.get("context", {}))
        serialized = []
        for row in body["examples"]:
            example = tf.train.Example()
            example.MergeFrom(context)
            example.MergeFrom(_json_example(row))
            serialized.append(example.SerializeToString())
        out = fn(inputs=tf.constant(serialized, tf.string))
        if verb == "regress":
            return {"result": np.reshape(out["outputs"].numpy(), [-1]).tolist()}
        labels = [[c.decode() for c in r] for r in out["classes"].numpy()]
        scores = out["scores"].numpy().tolist()
        return {"result": [[[l, s] for l, s in zip(ls, ss)] for ls, ss in zip(labels, scores)]}

    def grpc(self, method, request):
        """The response proto of `Predict`, `Classify` or `Regress`."""
        if method == "Predict":
            return self._grpc_predict(request)
        if method in ("Classify", "Regress"):
            return self._grpc_examples(method, request)
        raise ValueError(f"Unknown gRPC method {method!r}")

    def _grpc_predict(self, request):
        from tensorflow_serving.apis import predict_pb2

        fn = self.signature(request.model_spec.signature_name)
        specs = fn.structured_input_signature[1]
        if set(request.inputs) != set(specs):
            raise ValueError(
                f"input size does not match signature: {len(request.inputs)}!="
                f"{len(specs)} len({sorted(request.inputs)}) != len({sorted(specs)})"
            )
        tensors = {}
        for i, name in enumerate(sorted(specs)):
            proto = request.inputs[name]
            if tf.as_dtype(proto.dtype) != specs[name].dtype:
                raise ValueError(
                    f"Expects arg[{i}] to be {specs[name].dtype.name} but "
                    f"{tf.as_dtype(proto.dtype).name} is provided"
                )
            tensors[name] = tf.constant(tf.make_ndarray(proto))
        outputs = fn(**tensors)
        reply = predict_pb2.PredictResponse()
        self._echo_spec(reply, request)
        wanted = list(request.output_filter) or list(outputs)
        for name in wanted:
            reply.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name].numpy()))
        return reply

    def _grpc_examples(self, method, request):
        from tensorflow_serving.apis import classification_pb2
        from tensorflow_serving.apis import regression_pb2

        kind = CLASSIFY if method == "Classify" else REGRESS
        fn = self.signature(request.model_spec.signature_name, kind)
        serialized = [e.SerializeToString() for e in _input_examples(request.input)]
        if not serialized:
            raise ValueError(f"{method} request input is empty.")
        out = fn(inputs=tf.constant(serialized, tf.string))
        if method == "Regress":
            reply = regression_pb2.RegressionResponse()
            for value in np.reshape(out["outputs"].numpy(), [-1]):
                reply.result.regressions.add().value = float(value)
        else:
            reply = classification_pb2.ClassificationResponse()
            for labels, scores in zip(out["classes"].numpy(), out["scores"].numpy()):
                row = reply.result.classifications.add()
                for label, score in zip(labels, scores):
                    row.classes.add(label=label.decode(), score=float(score))
        self._echo_spec(reply, request)
        return reply

    def _echo_spec(self, reply, request):
        reply.model_spec.name = request.model_spec.name or self.model_name
        reply.model_spec.signature_name = (
            request.model_spec.signature_name or "serving_default"
        )
        if self.version is not None:
            reply.model_spec.version.value = self.version

    def warmup(self):
        """Replays `assets.extra/tf_serving_warmup_requests`: a list of
        `(method, request, response)`."""
        from tensorflow_serving.apis import prediction_log_pb2

        path = os.path.join(self.export_dir, "assets.extra", "tf_serving_warmup_requests")
        replies = []
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog.FromString(record)
            kind = log.WhichOneof("log_type")
            method = {"predict_log": "Predict", "classify_log": "Classify",
                      "regress_log": "Regress"}[kind]
            request = getattr(log, kind).request
            replies.append((method, request, self.grpc(method, request)))
        return replies


def _json_tensor(name, values, dtype):
    array = np.asarray(values, dtype=object)
    flat = array.reshape(-1).tolist()
    if dtype == tf.string:
        converted = []
        for v in flat:
            if isinstance(v, dict) and set(v) == {"b64"}:
                converted.append(base64.b64decode(v["b64"]))
            elif isinstance(v, str):
                converted.append(v.encode("utf-8"))
            else:
                raise ValueError(f"JSON Value: {v!r} for {name!r} is not a string.")
        return tf.constant(np.array(converted, dtype=object).reshape(array.shape), tf.string)
    if dtype.is_integer:
        if any(isinstance(v, bool) or not isinstance(v, int) for v in flat):
            bad = next(v for v in flat if isinstance(v, bool) or not isinstance(v, int))
            raise ValueError(
                f"JSON Value: {json.dumps(bad)} Type: {type(bad).__name__} is not of "
                f"expected type: {dtype.name} (input {name!r})"
            )
        return tf.constant(np.array(flat, dtype=dtype.as_numpy_dtype).reshape(array.shape))
    return tf.constant(np.array(flat, dtype=dtype.as_numpy_dtype).reshape(array.shape))


def _is_named(instance):
    """A row-format instance naming its inputs (not a `{"b64": ...}` value)."""
    return isinstance(instance, dict) and set(instance) != {"b64"}


def _json_example(features):
    feature = {}
    for name, value in features.items():
        values = value if isinstance(value, list) else [value]
        if all(isinstance(v, str) or isinstance(v, dict) for v in values):
            raw = [base64.b64decode(v["b64"]) if isinstance(v, dict) else v.encode()
                   for v in values]
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=raw))
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        else:
            feature[name] = tf.train.Feature(
                float_list=tf.train.FloatList(value=[float(v) for v in values])
            )
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _input_examples(model_input):
    kind = model_input.WhichOneof("kind")
    if kind == "example_list":
        return list(model_input.example_list.examples)
    if kind == "example_list_with_context":
        context = model_input.example_list_with_context.context
        merged = []
        for example in model_input.example_list_with_context.examples:
            full = tf.train.Example()
            full.MergeFrom(context)
            full.MergeFrom(example)
            merged.append(full)
        return merged
    return []


def _to_json(array):
    if array.dtype == object:
        return [[v.decode() for v in row] if np.ndim(row) else row.decode() for row in array]
    return array.tolist()


def main(argv):
    """`python -m serving.local_server JOB.json OUT.json` (see module doc)."""
    with open(argv[0]) as fh:
        job = json.load(fh)
    result = {}
    for export in job["exports"]:
        server = LocalServer(export["export_dir"], export.get("model_name"))
        answers = {"methods": server.methods, "rest": {}, "grpc": {}, "warmup": []}
        for key, (verb, body) in export.get("rest", {}).items():
            answers["rest"][key] = server.rest(verb, body)
        for key, (method, encoded) in export.get("grpc", {}).items():
            request = _request_type(method).FromString(base64.b64decode(encoded))
            try:
                reply = server.grpc(method, request)
            except (ValueError, TypeError, tf.errors.OpError) as err:
                answers["grpc"][key] = {"error": str(err)}
                continue
            answers["grpc"][key] = base64.b64encode(reply.SerializeToString()).decode()
        if export.get("warmup"):
            for method, request, reply in server.warmup():
                answers["warmup"].append([
                    method,
                    base64.b64encode(request.SerializeToString()).decode(),
                    base64.b64encode(reply.SerializeToString()).decode(),
                ])
        result[export["export_dir"]] = answers
    with open(argv[1], "w") as fh:
        json.dump(result, fh)
    return 0


def _request_type(method):
    from tensorflow_serving.apis import classification_pb2
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import regression_pb2

    return {
        "Predict": predict_pb2.PredictRequest,
        "Classify": classification_pb2.ClassificationRequest,
        "Regress": regression_pb2.RegressionRequest,
    }[method]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
