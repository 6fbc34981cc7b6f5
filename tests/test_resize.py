import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
from dimgrow_tf.resize.resize_utils import remap_tensor


def test_field_resize_validation():
    assert dg.FieldResize.grow_by(3).keep == (0, 1, 2)
    assert dg.FieldResize.drop(3, [1]).keep == (0, 2)
    assert dg.FieldResize((0, 1)).is_identity(2)
    with pytest.raises(ValueError, match="distinct"):
        dg.FieldResize((0, 0))
    with pytest.raises(ValueError, match="at least one column"):
        dg.FieldResize(())
    with pytest.raises(ValueError, match="grow=-1"):
        dg.FieldResize((0,), grow=-1)


def test_remap_tensor_golden():
    value = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(remap_tensor(value, 1, (2, 0), 1), [[2, 0, 0], [5, 3, 0]])
    np.testing.assert_array_equal(
        remap_tensor(value, 0, (1,), 1, fill=tf.fill((1, 3), 9.0)), [[3, 4, 5], [9, 9, 9]]
    )
    np.testing.assert_array_equal(remap_tensor(value, 1, (0, 1), 0), [[0, 1], [3, 4]])
    np.testing.assert_array_equal(remap_tensor(value, 0, (0,), 2), [[0, 1, 2], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(remap_tensor(value, 1, (0, 1, 2), 0), value)
    with pytest.raises(ValueError, match="expected"):
        remap_tensor(value, 0, (1,), 1, fill=tf.zeros((2, 3)))


def _layer(resizable=True):
    emb = dg.DimGrowEmbedding(
        [dg.FieldConfig("a", 10, dim=3), dg.FieldConfig("b", 7)], output_dim=4
    )
    emb.build()
    emb.set_resizable_storage(resizable)
    return emb


def test_grow_keeps_old_columns_and_initialises_new_ones():
    emb = _layer()
    old = {k: v.numpy().copy() for k, v in emb.field_variables("a").items()}
    order_before = [v.path for v in emb.weights]
    remaps = emb.resize({"a": dg.FieldResize.grow_by(3)})
    new = emb.field_variables("a")
    assert emb.dims == {"a": 4, "b": 1}
    np.testing.assert_array_equal(new["embeddings"].numpy()[:, :3], old["embeddings"])
    np.testing.assert_array_equal(new["projection"].numpy()[:3], old["projection"])
    assert new["gate_logits"].numpy()[3] == 0.0 and new["moving_mean"].numpy()[3] == 0.0
    fresh = new["embeddings"].numpy()[:, 3]
    assert 0 < np.std(fresh) < 0.05
    assert len(remaps) == 4 and {(r.keep, r.grow) for r in remaps} == {((0, 1, 2), 1)}
    assert not any(r.rebacked for r in remaps), "resized in place"
    assert [v.path for v in emb.weights] == order_before
    assert emb.embedding_bytes() == 4 * (10 * 4 + 7 * 1)
    for variable in emb.weights:
        if variable.path.startswith(emb.name + "/a_"):
            assert tuple(tf.shape(variable.value).numpy()) == tuple(variable.shape)


@pytest.mark.parametrize("resizable", [True, False])
def test_shrink_drops_the_collapsed_column_and_frees_memory(resizable):
    emb = _layer(resizable)
    table = emb.field_variables("a")["embeddings"].numpy().copy()
    proj = emb.field_variables("a")["projection"].numpy().copy()
    remaps = emb.resize({"a": dg.FieldResize.drop(3, [1])})
    assert all(r.rebacked is not resizable for r in remaps)
    new = emb.field_variables("a")
    np.testing.assert_array_equal(new["embeddings"].numpy(), table[:, [0, 2]])
    np.testing.assert_array_equal(new["projection"].numpy(), proj[[0, 2]])
    assert tuple(new["embeddings"].shape) == (10, 2)
    assert emb.embedding_bytes() == 4 * (10 * 2 + 7)
    # The stored buffers themselves are the smaller ones, not a masked view.
    assert tuple(tf.shape(new["embeddings"].value).numpy()) == (10, 2)
    assert tuple(tf.shape(new["projection"].value).numpy()) == (2, 4)
    assert all(tf.shape(v.value).numpy()[0] == 2
               for v in emb.weights if "/a_" in v.path and len(v.shape) == 1)


def test_resize_errors():
    emb = _layer()
    with pytest.raises(ValueError, match="Unknown field 'z'"):
        emb.resize({"z": dg.FieldResize((0,))})
    with pytest.raises(ValueError, match="cannot keep column 5"):
        emb.resize({"a": dg.FieldResize((5,))})
    unbuilt = dg.DimGrowEmbedding([dg.FieldConfig("a", 3)])
    with pytest.raises(ValueError, match="must be built"):
        unbuilt.resize({"a": dg.FieldResize.grow_by(1)})
