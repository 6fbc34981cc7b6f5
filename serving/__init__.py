"""Clients and checks for serving DimGrow exports with TensorFlow Serving."""

from serving.grpc_client import GrpcClient
from serving.request_utils import load_schema
from serving.rest_client import RestClient

__all__ = ["GrpcClient", "RestClient", "load_schema"]
