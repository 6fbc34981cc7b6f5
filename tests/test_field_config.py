import numpy as np
import pytest

from conftest import config_round_trip
from dimgrow_tf import FieldConfig
from dimgrow_tf.field_config import check_unique_fields


def test_defaults_and_round_trip():
    f = FieldConfig("user_id", vocab_size=np.int64(6040), max_dim=8)
    assert (f.vocab_size, f.dim, f.max_dim) == (6040, 1, 8)
    assert type(f.vocab_size) is int
    assert config_round_trip(f) == f
    assert f.with_dim(5).dim == 5 and f.dim == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="", vocab_size=3), "non-empty"),
        (dict(name="a b", vocab_size=3), "'a b'"),
        (dict(name="a", vocab_size=0), "vocab_size=0"),
        (dict(name="a", vocab_size=3.0), "vocab_size=3.0"),
        (dict(name="a", vocab_size=3, dim=-1), "dim=-1"),
        (dict(name="a", vocab_size=3, dim=True), "dim=True"),
        (dict(name="a", vocab_size=3, max_dim=0), "max_dim=0"),
    ],
)
def test_bad_values_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        FieldConfig(**kwargs)


def test_duplicate_and_empty_fields_rejected():
    with pytest.raises(ValueError, match="Duplicate field name 'a'"):
        check_unique_fields([FieldConfig("a", 2), FieldConfig("a", 3)])
    with pytest.raises(ValueError, match="at least one"):
        check_unique_fields([])
    with pytest.raises(TypeError, match="FieldConfig"):
        check_unique_fields([{"name": "a"}])
