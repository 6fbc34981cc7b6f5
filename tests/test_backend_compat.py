import os
import subprocess
import sys

import keras
import numpy as np

import dimgrow_tf as dg
from dimgrow_tf import backend_compat


def test_compat_picks_keras_3_without_the_legacy_flag():
    assert backend_compat.KERAS_3 is True
    assert backend_compat.keras is keras
    assert backend_compat.keras_name() == "keras"
    assert issubclass(dg.DimGrowEmbedding, keras.layers.Layer)
    assert isinstance(backend_compat.SeedGenerator(1), keras.random.SeedGenerator)


def test_storage_and_shape_of_a_keras_3_variable():
    emb = dg.DimGrowEmbedding([dg.FieldConfig("a", 5, dim=2)], output_dim=3)
    emb.build()
    table = emb.field_variables("a")["embeddings"]
    assert backend_compat.storage(table) is table.value
    assert backend_compat.current_shape(table) == (5, 2)
    np.testing.assert_array_equal(backend_compat.to_numpy(table), table.numpy())


def test_an_unknown_dimgrow_keras_value_is_refused_naming_it():
    env = dict(os.environ, DIMGROW_KERAS="keras2")
    proc = subprocess.run([sys.executable, "-c", "import dimgrow_tf"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "DIMGROW_KERAS='keras2'" in proc.stderr and "tf_keras" in proc.stderr
