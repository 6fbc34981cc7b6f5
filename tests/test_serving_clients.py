"""The REST and gRPC clients over real sockets, against stub servers."""

import base64
import http.server
import json
import threading
from concurrent import futures

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.apis import regression_pb2

from serving import GrpcClient
from serving import RestClient
from dimgrow_tf.export import request_utils as ru

SCHEMA = {"user": "string", "item": "int64"}
ROWS = [{"user": "ann", "item": 3}, {"user": "bob", "item": 4}]
COLUMNS = {"user": ["ann", "bob"], "item": np.array([3, 4], "int32")}


class _Http(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Http.seen.append((self.path, body))
        if "/bad:" in self.path:
            reply, code = {"error": "Servable not found for request: Latest(bad)"}, 404
        elif self.path.endswith(":predict"):
            key = "outputs" if "inputs" in body else "predictions"
            reply, code = {key: [0.25, 0.75]}, 200
        else:
            reply, code = {"result": [0.25, 0.75]}, 200
        data = json.dumps(reply).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_url():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Http)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Http.seen.clear()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self):
        self.seen = []

    def Predict(self, request, context):
        self.seen.append(request)
        reply = predict_pb2.PredictResponse()
        reply.outputs["probability"].CopyFrom(tf.make_tensor_proto(
            np.array([0.25, 0.75], "float32")))
        return reply

    def Classify(self, request, context):
        self.seen.append(request)
        reply = classification_pb2.ClassificationResponse()
        for p in (0.25, 0.75):
            row = reply.result.classifications.add()
            row.classes.add(label="0", score=1 - p)
            row.classes.add(label="1", score=p)
        return reply

    def Regress(self, request, context):
        self.seen.append(request)
        reply = regression_pb2.RegressionResponse()
        for p in (0.25, 0.75):
            reply.result.regressions.add().value = p
        return reply


@pytest.fixture()
def grpc_target():
    servicer = _Servicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", servicer
    server.stop(None)


def test_rest_client_posts_row_columnar_and_example_bodies(http_url):
    client = RestClient(http_url, "ctr", version=3, schema=SCHEMA)
    assert client.predict(ROWS) == [0.25, 0.75]
    assert client.predict(COLUMNS, columnar=True) == [0.25, 0.75]
    assert client.classify(ROWS) == [0.25, 0.75]
    assert client.regress(COLUMNS) == [0.25, 0.75]
    paths = [p for p, _ in _Http.seen]
    assert paths == ["/v1/models/ctr/versions/3:predict"] * 2 + [
        "/v1/models/ctr/versions/3:classify", "/v1/models/ctr/versions/3:regress"]
    bodies = [b for _, b in _Http.seen]
    assert bodies[0] == {"instances": ROWS}
    assert bodies[1] == {"inputs": {"user": ["ann", "bob"], "item": [3, 4]}}
    assert bodies[2] == {"signature_name": "classify", "examples": ROWS}
    assert bodies[3] == {"signature_name": "regress", "examples": ROWS}
    examples = client.examples_predict_body(ROWS)
    parsed = tf.train.Example.FromString(base64.b64decode(examples["instances"][1]["b64"]))
    assert parsed.features.feature["user"].bytes_list.value == [b"bob"]
    assert parsed.features.feature["item"].int64_list.value == [4]


def test_rest_client_raises_server_error_message(http_url):
    client = RestClient(http_url, "bad")
    with pytest.raises(RuntimeError, match=r"predict failed \(404\): Servable not found"):
        client.predict(ROWS)
    assert RestClient("http://h:1/", "m").endpoint("predict") == "http://h:1/v1/models/m:predict"


def test_grpc_client_sends_typed_tensors_and_examples(grpc_target):
    target, servicer = grpc_target
    client = GrpcClient(target, "ctr", version=2, schema=SCHEMA)
    np.testing.assert_allclose(client.predict(COLUMNS), [0.25, 0.75])
    np.testing.assert_allclose(client.predict_examples(ROWS), [0.25, 0.75])
    np.testing.assert_allclose(client.classify(ROWS), [[0.75, 0.25], [0.25, 0.75]])
    np.testing.assert_allclose(client.regress(ROWS), [0.25, 0.75])
    predict, by_examples, classify, regress = servicer.seen
    assert predict.model_spec.name == "ctr" and predict.model_spec.version.value == 2
    assert predict.model_spec.signature_name == "serving_default"
    assert predict.inputs["item"].dtype == tf.int64.as_datatype_enum
    assert tf.make_ndarray(predict.inputs["item"]).tolist() == [3, 4]
    assert tf.make_ndarray(predict.inputs["user"]).tolist() == [b"ann", b"bob"]
    assert by_examples.model_spec.signature_name == "examples"
    first = tf.train.Example.FromString(tf.make_ndarray(by_examples.inputs["examples"])[0])
    assert first.features.feature["item"].int64_list.value == [3]
    assert classify.model_spec.signature_name == "classify"
    assert [e.features.feature["user"].bytes_list.value[0] for e in
            classify.input.example_list.examples] == [b"ann", b"bob"]
    assert regress.model_spec.signature_name == "regress"


@pytest.mark.parametrize(
    "features, error, message",
    [({"user": ["ann"], "item": [1.5]}, TypeError, "integer ids, strings or None"),
     ({"user": [1], "item": [1]}, TypeError, "takes string values"),
     ({"user": ["a"]}, ValueError, r"missing \['item'\]"),
     ({"user": ["a"], "item": [1], "age": [3]}, ValueError, r"missing \[\], extra \['age'\]"),
     ({"user": ["a", "b"], "item": [1]}, ValueError, "same number of values"),
     ({"user": [["a", "b"]], "item": [[1, 2]]}, ValueError, "1-D list"),
     ([{"user": "a", "item": 1}, {"user": "b"}], ValueError, "Row 1 has fields"),
     ({"user": ["a"], "item": [True]}, TypeError, "booleans"),
     ("user=a", TypeError, "rows .list of dicts. or columns")],
)
def test_bad_features_fail_before_sending(features, error, message):
    with pytest.raises(error, match=message):
        ru.to_columns(features, SCHEMA)


def test_missing_values_are_left_out_of_examples_and_refused_as_tensors():
    columns = ru.to_columns([{"user": None, "item": 3}, {"user": "b", "item": None}], SCHEMA)
    first, second = (ru.make_example(r) for r in ru.to_rows(columns))
    assert sorted(first.features.feature) == ["item"]
    assert sorted(second.features.feature) == ["user"]
    with pytest.raises(ValueError, match="'user' has a missing value"):
        ru.predict_request(columns, "m", schema=SCHEMA)
    body = RestClient(schema=SCHEMA).examples_body(columns, "regress")
    assert body["examples"] == [{"item": 3}, {"user": "b"}]


def test_columns_accept_numpy_and_column_vectors():
    columns = ru.to_columns({"user": np.array(["a", "b"]), "item": np.array([[1], [2]])}, SCHEMA)
    assert columns == {"user": ["a", "b"], "item": [1, 2]}
    assert ru.to_rows(columns) == [{"user": "a", "item": 1}, {"user": "b", "item": 2}]
