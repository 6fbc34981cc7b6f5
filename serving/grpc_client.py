"""Client for TF Serving's gRPC API (port 8500) on a DimGrow export."""

import numpy as np
import tensorflow as tf

from dimgrow_tf.export import request_utils as ru


class GrpcClient:
    """Predict, Classify and Regress over gRPC (`tensorflow-serving-api`).

    `predict` sends one tensor per field (`DT_INT64` ids or `DT_STRING`
    values, shape `(batch,)`) to `serving_default`; `predict_examples`
    sends serialized `tf.Example`s to the `examples` signature; `classify`
    and `regress` send an `ExampleList`. `*_request` methods build the
    request protos without sending them, with
    `dimgrow_tf.export.request_utils`, which also builds the export's
    warmup requests.

    Args:
        target: str. `host:port`. Defaults to `"localhost:8500"`.
        model_name: str. Defaults to `"dimgrow"`.
        version: int or None. Pin a version. Defaults to `None`.
        schema: dict `{field: "int64" | "string"}` or None. Checks the
            features before sending. Defaults to `None`.
        timeout: float. Seconds per call. Defaults to `10.0`.

    Example:

    ```python
    client = GrpcClient("localhost:8500", "dimgrow")
    client.predict({"user_id": [3, 4], "item_id": [7, 8]})  # array([p0, p1])
    ```
    """

    def __init__(self, target="localhost:8500", model_name="dimgrow",
                 version=None, schema=None, timeout=10.0):
        self.target = target
        self.model_name = model_name
        self.version = version
        self.schema = schema
        self.timeout = float(timeout)
        self._stub = None

    def predict_request(self, features, signature_name="serving_default"):
        """A `PredictRequest` with one tensor per field."""
        columns = ru.to_columns(features, self.schema)
        return ru.predict_request(columns, self.model_name, signature_name,
                                  self.version, self.schema)

    def examples_predict_request(self, features, signature_name="examples"):
        """A `PredictRequest` with serialized `tf.Example`s in `examples`."""
        return ru.examples_predict_request(self._rows(features), self.model_name,
                                           signature_name, self.version)

    def classify_request(self, features, signature_name="classify"):
        return ru.classify_request(self._rows(features), self.model_name,
                                   signature_name, self.version)

    def regress_request(self, features, signature_name="regress"):
        return ru.regress_request(self._rows(features), self.model_name,
                                  signature_name, self.version)

    def examples(self, features):
        """One `tf.train.Example` per row (`None` values left out)."""
        return [ru.make_example(row) for row in self._rows(features)]

    def _rows(self, features):
        return ru.to_rows(ru.to_columns(features, self.schema))

    def predict(self, features, signature_name="serving_default"):
        """Probabilities `(batch,)` from `serving_default`."""
        reply = self._call("Predict", self.predict_request(features, signature_name))
        return tf.make_ndarray(reply.outputs["probability"])

    def predict_examples(self, features, signature_name="examples"):
        reply = self._call(
            "Predict", self.examples_predict_request(features, signature_name)
        )
        return tf.make_ndarray(reply.outputs["probability"])

    def classify(self, features, signature_name="classify"):
        """Scores `(batch, 2)`: `[1 - p, p]` for classes `"0"`, `"1"`."""
        reply = self._call("Classify", self.classify_request(features, signature_name))
        return np.array(
            [[c.score for c in row.classes] for row in reply.result.classifications],
            dtype="float32",
        )

    def regress(self, features, signature_name="regress"):
        reply = self._call("Regress", self.regress_request(features, signature_name))
        return np.array([r.value for r in reply.result.regressions], dtype="float32")

    def _call(self, method, request):
        if self._stub is None:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            channel = grpc.insecure_channel(self.target)
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return getattr(self._stub, method)(request, timeout=self.timeout)
