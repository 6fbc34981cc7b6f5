import numpy as np
import pytest
import keras

from dimgrow_tf.layers import shuffle_gate_utils as sg


def test_gate_values_golden():
    g = keras.ops.convert_to_numpy(sg.gate_values(np.array([0.0, 0.2, -0.2]), 5.0))
    np.testing.assert_allclose(g, [0.5, 1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))], rtol=1e-6)


def test_shuffle_permutes_each_column_independently():
    x = np.arange(200, dtype="float32").reshape(100, 2)
    x[:, 1] = x[:, 0]
    out = keras.ops.convert_to_numpy(sg.shuffle_columns(x, keras.random.SeedGenerator(3)))
    for j in range(2):
        np.testing.assert_array_equal(np.sort(out[:, j]), np.sort(x[:, j]))
    assert not np.array_equal(out[:, 0], x[:, 0])
    assert not np.array_equal(out[:, 0], out[:, 1])


def test_shuffled_columns_of_a_row_come_from_distinct_source_rows():
    x = np.repeat(np.arange(64, dtype="float32")[:, None], 40, axis=1)
    out = keras.ops.convert_to_numpy(sg.shuffle_columns(x, keras.random.SeedGenerator(5)))
    for row in out:
        assert len(set(row.tolist())) == 40
    again = keras.ops.convert_to_numpy(sg.shuffle_columns(x, keras.random.SeedGenerator(6)))
    assert not np.array_equal(out, again)


def test_shuffle_has_no_gradient():
    import tensorflow as tf

    x = tf.Variable(np.ones((4, 3), "float32"))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(
            sg.shuffle_columns(tf.identity(x), keras.random.SeedGenerator(0))
        )
    assert tape.gradient(y, x) is None


def test_mix_golden():
    out = sg.mix(np.array([[1.0, 2.0]]), np.array([[3.0, 5.0]]), np.array([0.25, 1.0]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), [[0.25 + 2.25, 2.0]])


@pytest.mark.parametrize(
    "form, expected",
    [
        ("reference", 0.5 * 0.1 * np.mean([0.8 / 1, 0.4 / 2, 0.6 / 1])),
        ("l1_sum", 0.5 * 1.8),
        ("l1_mean", 0.5 * 0.6),
    ],
)
def test_regularizer_forms(form, expected):
    gates = np.array([0.8, 0.4, 0.6], "float32")
    positions = np.array([1.0, 2.0, 1.0], "float32")
    value = sg.gate_regularizer(gates, positions, form, 0.5)
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


def test_unknown_regularizer():
    with pytest.raises(ValueError, match="'l2'"):
        sg.gate_regularizer(np.ones(1), np.ones(1), "l2", 1.0)
