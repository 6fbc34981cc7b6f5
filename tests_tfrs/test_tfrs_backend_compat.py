import pytest

from tfrs_helpers import LEGACY_PROBLEM

if LEGACY_PROBLEM:
    pytest.skip(LEGACY_PROBLEM, allow_module_level=True)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

import dimgrow_tf as dg  # noqa: E402
from dimgrow_tf import backend_compat  # noqa: E402
from tfrs_helpers import run_python  # noqa: E402

PROBE = (
    "import json, dimgrow_tf as dg; from dimgrow_tf import backend_compat as bc; "
    "print(json.dumps({'keras_3': bc.KERAS_3, 'module': bc.keras.__name__, "
    "'version': bc.keras_version(), 'layer_base': dg.DimGrowEmbedding.__mro__[1].__module__}))"
)


def test_compat_picks_tf_keras_under_the_legacy_flag():
    assert backend_compat.KERAS_3 is False
    assert backend_compat.keras is tf_keras
    assert backend_compat.keras_name() == "tf_keras"
    assert tf.keras.__name__.startswith("tf_keras")
    assert issubclass(dg.DimGrowEmbedding, tf_keras.layers.Layer)
    assert issubclass(dg.FixedFieldEmbedding, tf_keras.layers.Layer)
    assert issubclass(dg.DimGrowCallback, tf_keras.callbacks.Callback)


@pytest.mark.parametrize("legacy,choice,keras_3", [
    (True, None, False),         # TFRS users: the flag alone picks tf_keras
    (False, None, True),         # the same environment without it: Keras 3
    (True, "keras", True),       # TFX: Transform sets the flag, the Trainer module is Keras 3
    (False, "tf_keras", False),
])
def test_a_fresh_process_picks_keras_by_the_flag_or_dimgrow_keras(legacy, choice, keras_3):
    seen = run_python(PROBE, legacy=legacy, choice=choice)
    assert seen["keras_3"] is keras_3
    assert seen["module"] == ("keras" if keras_3 else "tf_keras")
    assert seen["version"].startswith("3." if keras_3 else "2.")
    assert seen["layer_base"].startswith("keras." if keras_3 else "tf_keras.")


def test_storage_and_current_shape_of_a_resizable_variable():
    var = tf.Variable(tf.zeros((4, 3)), shape=tf.TensorShape([4, None]))
    assert backend_compat.storage(var) is var
    assert var.shape.as_list() == [4, None]
    assert backend_compat.current_shape(var) == (4, 3)
    var.assign(tf.ones((4, 5)))
    assert backend_compat.current_shape(var) == (4, 5)
    np.testing.assert_array_equal(backend_compat.to_numpy(var), np.ones((4, 5)))


def test_seed_generator_stand_in_draws_the_same_values_from_the_same_state():
    a, b = backend_compat.SeedGenerator(7), backend_compat.SeedGenerator(7)
    x = backend_compat.random_normal((3, 2), 0.01, a)
    np.testing.assert_array_equal(x, backend_compat.random_normal((3, 2), 0.01, b))
    assert a.state.numpy().tolist() == [7, 1]
    y = backend_compat.random_normal((3, 2), 0.01, a)
    assert not np.array_equal(x, y)
    perm = backend_compat.random_shuffle(tf.range(10), a).numpy()
    assert sorted(perm.tolist()) == list(range(10))
