"""TFX pipeline running a DimGrow search, retrain and push."""

import os

# TensorFlow Transform sets TF_USE_LEGACY_KERAS=1 when imported; this
# pipeline's dimgrow_tf code is Keras 3 (see dimgrow_tf.backend_compat).
os.environ.setdefault("DIMGROW_KERAS", "keras")
