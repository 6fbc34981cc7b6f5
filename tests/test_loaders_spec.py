import json

import numpy as np
import pytest
import tensorflow as tf

from dimgrow_tf.data.dataset_spec import DatasetSpec
from dimgrow_tf.data.load_dataset import load_arrays
from dimgrow_tf.data.load_dataset import load_dataset
from dimgrow_tf.data.loader_utils import MalformedRowError
from dimgrow_tf.data.vocabulary import Vocabulary
from dimgrow_tf.models.builders import build_search_model

SCHEMA = {"label": "y", "categorical": ["a", "b"], "integer": ["n"]}


def write_csv(path, rows):
    path.write_text("y,a,b,n\n" + "\n".join(rows) + "\n")
    return path


def test_split_of_one_file_follows_the_recipe_and_counts_oov(tmp_path):
    rows = [f"{i % 2},a{i % 7},b{i},{i}" for i in range(50)]
    path = write_csv(tmp_path / "t.csv", rows)
    data = load_arrays(DatasetSpec("csv", train=str(path), schema=SCHEMA))
    perm = np.random.RandomState(2025).permutation(50)
    _, labels = data.splits["train"]
    np.testing.assert_array_equal(labels, perm[:40] % 2)
    assert [len(data.splits[s][1]) for s in ("train", "valid", "test")] == [40, 5, 5]
    assert [f.vocab_size for f in data.fields] == [42, 9, 42]
    assert data.stats["valid"].oov == {"n": 5, "a": 0, "b": 5}
    valid_x, _ = data.splits["valid"]
    np.testing.assert_array_equal(valid_x["b"], np.zeros(5))
    expected_a = [data.vocabulary.lookup("a", f"a{i % 7}") for i in perm[40:45]]
    np.testing.assert_array_equal(valid_x["a"], expected_a)
    assert data.stats["source"].rows == 50


def test_separate_files_skip_policy_and_saved_vocabulary(tmp_path):
    train = write_csv(tmp_path / "train.csv", ["1,x,p,1", "0,y,q,2", "9,y,q,2"])
    test = write_csv(tmp_path / "test.csv", ["1,x,new,2", "0,z,,3"])
    spec = dict(format="csv", train=str(train), valid=str(test), test=str(test),
                schema=SCHEMA, on_error="skip")
    data = load_arrays(spec)
    assert data.stats["train"].skipped == 1
    assert data.stats["source"].skip_reasons == {"label": 1}
    test_x, test_y = data.splits["test"]
    np.testing.assert_array_equal(test_x["b"], [0, 1])
    np.testing.assert_array_equal(test_x["a"], [2, 0])
    data.vocabulary.save(tmp_path / "vocab.json")
    again = load_arrays(dict(spec, vocabulary=str(tmp_path / "vocab.json"),
                             train=str(test)))
    assert again.vocabulary == data.vocabulary
    np.testing.assert_array_equal(again.splits["train"][0]["b"], test_x["b"])
    with pytest.raises(MalformedRowError, match="train.csv, line 4, field 'y'"):
        load_arrays(dict(spec, on_error="raise"))


def test_vocabulary_with_other_fields_is_rejected(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["1,x,p,1"] * 10)
    Vocabulary.fit({"a": ["x"]}).save(tmp_path / "v.json")
    with pytest.raises(ValueError, match="has fields"):
        load_arrays(DatasetSpec("csv", train=str(path), schema=SCHEMA,
                                vocabulary=str(tmp_path / "v.json")))


def test_spec_json_resolves_relative_paths(tmp_path):
    write_csv(tmp_path / "t.csv", [f"{i % 2},a,b,{i}" for i in range(20)])
    config = {"format": "csv", "train": "t.csv", "schema": SCHEMA, "batch_size": 4}
    (tmp_path / "spec.json").write_text(json.dumps(config))
    spec = DatasetSpec.load(tmp_path / "spec.json")
    assert spec.train == str(tmp_path / "t.csv")
    assert DatasetSpec.from_config(spec.get_config()) == spec
    assert len(load_arrays(str(tmp_path / "spec.json")).splits["train"][1]) == 16


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"format": "parquet"}, "`format` must be one of"),
        ({"valid": "v.csv"}, "both `valid` and `test`"),
        ({"split": (0.9, 0.8)}, "cut points"),
        ({"format": "csv", "schema": None}, "needs a `schema`"),
        ({"on_error": "warn"}, '"raise" or "skip"'),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_spec_validation(kwargs, message):
    config = dict(format="criteo", train="x.txt")
    config.update(kwargs)
    with pytest.raises(ValueError, match=message):
        DatasetSpec(**config)


def test_no_training_rows_is_an_error(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["7,x,p,1"])
    with pytest.raises(ValueError, match="No training rows"):
        load_arrays(DatasetSpec("csv", train=str(path), schema=SCHEMA,
                                on_error="skip"))


def test_load_dataset_feeds_a_search_model(tmp_path):
    rows = [f"{i % 2},a{i % 3},b{i % 5},{i % 4}" for i in range(40)]
    path = write_csv(tmp_path / "t.csv", rows)
    fields, train_ds, valid_ds, test_ds = load_dataset(
        DatasetSpec("csv", train=str(path), schema=SCHEMA, batch_size=8))
    features_spec, label_spec = train_ds.element_spec
    assert list(features_spec) == ["n", "a", "b"]
    assert all(s.dtype == tf.int32 for s in features_spec.values())
    assert label_spec.dtype == tf.float32
    assert sum(int(y.shape[0]) for _, y in test_ds) == 4
    model, _ = build_search_model(fields, output_dim=4, seed=0)
    history = model.fit(train_ds, validation_data=valid_ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_readme_dataset_spec_example_loads(tmp_path):
    import pathlib

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### The dataset spec JSON", 1)[1]
    example = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    header = section.split("with the header `", 1)[1].split("`", 1)[0]
    assert header == "id,click,hour,site_id,app_id,banner_pos,count,device_ip"
    rows = ["1,1,14,1fbe01fe,ecad2386,0,100,a99f214a",
            "2,0,15,,ecad2386,1,NA,b11e0e4e",
            "3,0,14,85f751fd,NA,0,3,a99f214a"]
    for split in ("train", "valid", "test"):
        (tmp_path / f"clicks_{split}.csv").write_text("\n".join([header] + rows * 2) + "\n")
    (tmp_path / "spec.json").write_text(json.dumps(example))
    data = load_arrays(str(tmp_path / "spec.json"))
    assert [f.name for f in data.fields] == ["hour", "banner_pos", "count", "site_id", "app_id"]
    vocab = data.vocabulary
    assert vocab.values("count") == ["1", "21"]   # floor(ln(100)^2) = 21, floor(ln(3)^2) = 1
    features, _ = data.splits["train"]
    assert features["site_id"].tolist() == [2, 1, 3] * 2     # "" is missing (1)
    assert features["app_id"].tolist() == [2, 2, 1] * 2      # NA is missing
    assert features["count"].tolist() == [3, 1, 2] * 2
