"""tests_tfrs/: dimgrow_tf on tf_keras and TFRS (`bash dev.sh test-tfrs`).

Run in .venv-tfrs with TF_USE_LEGACY_KERAS=1. Anywhere else (tf.keras is
Keras 3, or tf_keras / TFRS are missing) every module here skips itself
(`tfrs_helpers.LEGACY_PROBLEM`), and `tests/`'s run does not collect it.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tfrs_helpers import LEGACY_PROBLEM  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_session():
    if LEGACY_PROBLEM is None:
        import tf_keras

        tf_keras.backend.clear_session()
        tf_keras.utils.set_random_seed(1234)
    yield
