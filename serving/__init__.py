"""Clients and checks for serving DimGrow exports with TensorFlow Serving.

Requests are built by `dimgrow_tf.export.request_utils` (the same module
builds the export's warmup requests); `dimgrow_tf` never imports this
package. `GrpcClient` (imported on first use) needs
`tensorflow-serving-api`.
"""

from dimgrow_tf.export.request_utils import load_schema
from serving.rest_client import RestClient

__all__ = ["GrpcClient", "RestClient", "load_schema"]


def __getattr__(name):
    if name == "GrpcClient":
        from serving.grpc_client import GrpcClient

        return GrpcClient
    raise AttributeError(f"module 'serving' has no attribute {name!r}")
