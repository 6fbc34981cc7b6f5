"""Client for TF Serving's REST API (port 8501) on a DimGrow export."""

import base64
import json
import urllib.error
import urllib.request

from dimgrow_tf.export import request_utils as ru


class RestClient:
    """Calls `:predict`, `:classify` and `:regress` on a DimGrow export.

    Bodies follow TF Serving's REST API: predict in the row form
    (`{"instances": [{field: value, ...}, ...]}`) or the columnar form
    (`{"inputs": {field: [values]}}`), classify/regress with
    `{"examples": [{field: value}, ...]}` (JSON integers become
    `int64_list`, strings `bytes_list`). `*_body` methods build the JSON
    without sending it.

    Args:
        url: str. Server root. Defaults to `"http://localhost:8501"`.
        model_name: str. Defaults to `"dimgrow"`.
        version: int or None. Pin a version; `None` uses the newest.
            Defaults to `None`.
        schema: dict `{field: "int64" | "string"}` or None. Checks the
            features before sending (see `request_utils.load_schema`).
            Defaults to `None`.
        timeout: float. Seconds. Defaults to `10.0`.

    Example:

    ```python
    client = RestClient("http://localhost:8501", "dimgrow")
    client.predict([{"user_id": 3, "item_id": 7}])          # [0.31]
    client.predict({"user_id": [3, 4], "item_id": [7, 8]}, columnar=True)
    ```
    """

    def __init__(self, url="http://localhost:8501", model_name="dimgrow",
                 version=None, schema=None, timeout=10.0):
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.version = version
        self.schema = schema
        self.timeout = float(timeout)

    def endpoint(self, verb):
        """`.../v1/models/<name>[/versions/<v>]:<verb>`."""
        path = f"{self.url}/v1/models/{self.model_name}"
        if self.version is not None:
            path += f"/versions/{int(self.version)}"
        return f"{path}:{verb}"

    def predict_body(self, features, columnar=False, signature_name=None):
        """The JSON body of a predict request (see class docstring)."""
        columns = ru.to_columns(features, self.schema)
        body = {"signature_name": signature_name} if signature_name else {}
        if columnar:
            body["inputs"] = columns
        else:
            body["instances"] = ru.to_rows(columns)
        return body

    def examples_body(self, features, signature_name):
        """The JSON body of a classify or regress request."""
        columns = ru.to_columns(features, self.schema)
        rows = [{k: v for k, v in row.items() if v is not None}
                for row in ru.to_rows(columns)]
        return {"signature_name": signature_name, "examples": rows}

    def examples_predict_body(self, features, signature_name="examples"):
        """A predict body for the `examples` signature: base64-encoded
        serialized `tf.Example`s (`{"b64": ...}`), one instance per row."""
        rows = ru.to_rows(ru.to_columns(features, self.schema))
        encoded = [
            {"b64": base64.b64encode(ru.make_example(r).SerializeToString()).decode()}
            for r in rows
        ]
        return {"signature_name": signature_name, "instances": encoded}

    def predict(self, features, columnar=False, signature_name=None):
        """Probabilities, one per row, as a list of float."""
        reply = self.post("predict", self.predict_body(features, columnar, signature_name))
        return reply["outputs" if columnar else "predictions"]

    def classify(self, features, signature_name="classify"):
        """Per row, `[["0", 1 - p], ["1", p]]`."""
        return self.post("classify", self.examples_body(features, signature_name))["result"]

    def regress(self, features, signature_name="regress"):
        """Per row, the probability `p`."""
        return self.post("regress", self.examples_body(features, signature_name))["result"]

    def metadata(self):
        """The model's signature metadata (`GET .../metadata`)."""
        url = self.endpoint("predict").rsplit(":", 1)[0] + "/metadata"
        with urllib.request.urlopen(url, timeout=self.timeout) as reply:
            return json.loads(reply.read())

    def post(self, verb, body):
        """POSTs `body` to `verb`; raises `RuntimeError` with the server's
        `error` message on failure."""
        request = urllib.request.Request(
            self.endpoint(verb),
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise RuntimeError(f"TF Serving {verb} failed ({err.code}): {detail}") from err
