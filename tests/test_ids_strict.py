"""Ids are range-checked in the dtype the user passed (no int32 wrap)."""

import numpy as np
import pytest

import dimgrow_tf as dg

FIELDS = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, dim=2)]


def _layers():
    return [
        dg.DimGrowEmbedding(FIELDS, output_dim=3, seed=1),
        dg.FixedFieldEmbedding(FIELDS, output_dim=3),
    ]


@pytest.mark.parametrize("kind", [0, 1], ids=["dimgrow", "fixed"])
@pytest.mark.parametrize("bad", [2**32 + 3, -(2**32) + 3, 2**31])
def test_int64_id_beyond_int32_is_not_wrapped_into_the_vocabulary(kind, bad):
    layer = _layers()[kind]
    x = {"a": np.array([1, bad], "int64"), "b": np.array([1, 2], "int64")}
    with pytest.raises(Exception, match="Field 'a'"):
        layer(x)


@pytest.mark.parametrize("kind", [0, 1], ids=["dimgrow", "fixed"])
def test_valid_int64_and_uint_ids_read_their_rows(kind):
    layer = _layers()[kind]
    as32 = {"a": np.array([3, 9], "int32"), "b": np.array([0, 6], "int32")}
    ref = np.asarray(layer(as32))
    for dtype in ("int64", "uint8", "int16"):
        x = {k: v.astype(dtype) for k, v in as32.items()}
        np.testing.assert_array_equal(np.asarray(layer(x)), ref)
