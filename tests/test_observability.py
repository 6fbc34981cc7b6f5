import glob
import json

import pytest
import tensorflow as tf

import dimgrow_tf as dg
from conftest import make_search_model
from conftest import random_batch

FIELDS = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, max_dim=2)]


def _events(log_dir):
    values = {}
    for path in glob.glob(f"{log_dir}/events.out.tfevents.*"):
        for raw in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(raw.numpy())
            for v in event.summary.value:
                values.setdefault(v.tag, []).append(
                    (event.step, float(tf.make_ndarray(v.tensor)))
                )
    return values


def test_tensorboard_scalars_and_report(tmp_path):
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 160)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(max_dim=3, low=0.0, high=0.001, check_every=2, window=1, monitor="loss"))
    board = dg.DimGrowTensorBoard(emb, tmp_path / "tb", every=2)
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[search, board])
    values = _events(tmp_path / "tb")
    assert values["dims/a"][0] == (0, 1.0)
    assert (4, 3.0) in values["dims/a"] and (2, 2.0) in values["dims/b"]
    assert {t for t in values if t.startswith("gates/a/")} == {"gates/a/0", "gates/a/1", "gates/a/2"}
    assert values["embedding_mib"][-1][1] == pytest.approx(4 * (10 * 3 + 7 * 2) / 2**20)

    result = search.result()
    paths = dg.write_search_report(result, tmp_path / "report")
    report = json.loads(open(paths["json"]).read())
    timeline = report["timeline"]
    assert [t["step"] for t in timeline] == [0, 2, 4]
    assert timeline[0]["dims"] == {"a": 1, "b": 1} and timeline[-1]["dims"] == {"a": 3, "b": 2}
    assert timeline[-1]["table_bytes"] == 4 * (10 * 3 + 7 * 2)
    assert report["final_dims"] == result.dims
    png = open(paths["png"], "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_tensorboard_callback_validation():
    emb = dg.DimGrowEmbedding(FIELDS)
    with pytest.raises(ValueError, match="every"):
        dg.DimGrowTensorBoard(emb, "/tmp/x", every=0)
