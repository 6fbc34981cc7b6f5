import pytest

from tfrs_helpers import LEGACY_PROBLEM

if LEGACY_PROBLEM:
    pytest.skip(LEGACY_PROBLEM, allow_module_level=True)

import json  # noqa: E402
import os  # noqa: E402
import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import dimgrow_tf as dg  # noqa: E402
from dimgrow_tf.data.datasets import to_dataset  # noqa: E402
from tfrs_helpers import ROOT  # noqa: E402
from tfrs_helpers import scripted_gates  # noqa: E402
from tfrs_helpers import serve_in_fresh_process  # noqa: E402

sys.path.insert(0, str(ROOT / "examples"))

from tfrs_movielens import RankingModel  # noqa: E402
from tfrs_movielens_utils import ITEM_FIELDS  # noqa: E402
from tfrs_movielens_utils import USER_FIELDS  # noqa: E402
from tfrs_movielens_utils import TwoTowerModel  # noqa: E402
from tfrs_movielens_utils import movielens_like  # noqa: E402


def _data(rows=2000):
    fields, splits = movielens_like(rows, seed=3)
    train = to_dataset(*splits["train"], 64)
    valid = to_dataset(*splits["valid"], 256)
    return fields, splits, train, valid


def test_tfrs_ranking_model_searches_retrains_and_its_export_serves(tmp_path):
    import tf_keras as keras

    fields, splits, train, valid = _data()
    embedding = dg.DimGrowEmbedding(fields, output_dim=16, seed=0)
    model = RankingModel(embedding, hidden=(8,))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    search = dg.DimGrowCallback(embedding, dg.SearchConfig(gate_updates="train"))
    plan = {3: {"user_id": [5.0], "item_id": [5.0]}, 6: {"user_id": [5.0, 5.0]}}
    history = model.fit(train, validation_data=valid, epochs=2, verbose=0,
                        callbacks=[scripted_gates(embedding, plan), search])
    grown = [(e["step"], e["field"], e["to"]) for e in search.history if e["action"] == "grow"]
    assert grown[:3] == [(3, "user_id", 2), (3, "item_id", 2), (6, "user_id", 3)]
    assert embedding.trace_counts["train"] == 1
    assert all(v > 0 for v in history.history["regularization_loss"])  # the gate penalty
    assert "val_auc" in history.history and "dim_user_id" in history.history
    result = search.result()
    assert result.monitor == "val_auc" and result.best_epoch in (0, 1)

    final = [f.with_dim(max(f.dim, 1)) for f in result.fields]
    retrained = RankingModel(dg.FixedFieldEmbedding(final, output_dim=16), hidden=(8,))
    retrained.compile(optimizer=keras.optimizers.Adam(1e-3))
    retrained.fit(train, epochs=1, verbose=0)
    path = dg.export_saved_model(retrained.scorer, str(tmp_path / "exports"))
    features = {k: v[:100] for k, v in splits["test"][0].items()}
    eager = retrained(features).numpy()[:, 0]
    served = serve_in_fresh_process(
        path, {k: v.astype("int64") for k, v in features.items()}, tmp_path)
    np.testing.assert_allclose(served, eager, atol=1e-6)


def test_two_tower_retrieval_model_searches_both_towers():
    import tf_keras as keras

    fields, splits, train, valid = _data()
    by_name = {f.name: f for f in fields}
    user = dg.DimGrowEmbedding([by_name[n] for n in USER_FIELDS], output_dim=8, name="u")
    item = dg.DimGrowEmbedding([by_name[n] for n in ITEM_FIELDS], output_dim=8, name="i")
    model = TwoTowerModel(user, item)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    config = dg.SearchConfig(monitor="val_loss", gate_updates="train")
    searches = [dg.DimGrowCallback(user, config), dg.DimGrowCallback(item, config)]
    history = model.fit(
        train, validation_data=valid, epochs=1, verbose=0,
        callbacks=[scripted_gates(user, {2: {"zip": [5.0]}}),
                   scripted_gates(item, {2: {"genre": [5.0]}}), *searches])
    assert user.dims["zip"] == 2 and item.dims["genre"] == 2
    assert [e["field"] for e in searches[0].history][:1] == ["zip"]
    assert [e["field"] for e in searches[1].history][:1] == ["genre"]
    assert user.trace_counts["train"] == 1 and item.trace_counts["train"] == 1
    assert np.isfinite(history.history["val_loss"][-1])
    query = model.user_tower({k: tf.constant(splits["test"][0][k][:5]) for k in USER_FIELDS})
    assert query.shape == (5, 32)


def test_example_runs_at_default_arguments(tmp_path):
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tfrs_movielens.py"), "--out",
         str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["keras"] == "tf_keras" and summary["task"] == "ranking"
    assert summary["served_max_abs_diff"] <= 1e-5
    assert summary["resizes"] > 0 and 0 < summary["search_total_dims"] < 8 * 16
    shared = summary["data"].endswith("movielens_100k")  # else generated data
    assert summary["retrained_test_auc"] > (0.75 if shared else 0.6)
    assert pathlib.Path(summary["export"], "saved_model.pb").is_file()


def test_example_retrieval_task_serves_the_retrained_user_tower(tmp_path):
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tfrs_movielens.py"), "--task",
         "retrieval", "--out", str(tmp_path), "--verbose", "0"],
        capture_output=True, text=True, env=env, timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["task"] == "retrieval" and summary["resizes"] > 0
    assert set(summary["search_dims"]) == set(USER_FIELDS) | set(ITEM_FIELDS)
    assert summary["served_max_abs_diff"] <= 1e-5
    assert pathlib.Path(summary["export"], "saved_model.pb").is_file()
