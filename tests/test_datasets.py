import os

import numpy as np
import pytest

from dimgrow_tf.data.datasets import load_split_dir

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "splits")


def _write_split_dir(path, rows):
    import json

    path.mkdir()
    (path / "stats.json").write_text(json.dumps({"fields": ["u", "i"], "vocab": {"u": 3, "i": 5}}))
    for split in ("train", "valid", "test"):
        (path / f"{split}.csv").write_text("label,u,i\n" + "\n".join(rows) + "\n")


def test_load_split_dir(tmp_path):
    _write_split_dir(tmp_path / "d", ["1,0,4", "0,2,1"])
    fields, splits = load_split_dir(tmp_path / "d")
    assert [(f.name, f.vocab_size, f.dim) for f in fields] == [("u", 3, 1), ("i", 5, 1)]
    features, labels = splits["valid"]
    np.testing.assert_array_equal(features["i"], [4, 1])
    np.testing.assert_array_equal(labels, [1.0, 0.0])


def test_out_of_vocab_id_names_file_line_and_field(tmp_path):
    _write_split_dir(tmp_path / "d", ["1,0,4", "0,3,1"])
    with pytest.raises(ValueError, match=r"train.csv, line 3, field 'u': id 3 outside \[0, 3\)"):
        load_split_dir(tmp_path / "d")


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "frappe")), reason="shared data absent")
def test_shared_frappe_split_loads():
    fields, splits = load_split_dir(os.path.join(SHARED, "frappe"))
    assert len(fields) == 10 and len(splits["train"][1]) == 69265
