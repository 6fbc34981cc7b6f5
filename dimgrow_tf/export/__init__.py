"""Compact SavedModel export of searched and retrained DimGrow models."""

from dimgrow_tf.export.compact_model import compact_model
from dimgrow_tf.export.export_saved_model import export_saved_model
from dimgrow_tf.export.serving_config import write_models_config

__all__ = ["compact_model", "export_saved_model", "write_models_config"]
