import json

import keras
import numpy as np
import pytest

import dimgrow_tf as dg
from conftest import make_search_model
from conftest import random_batch
from dimgrow_tf.data.datasets import to_dataset

FIELDS = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, max_dim=2)]


def test_certain_growth_widths_logs_and_history():
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 160)
    # high=0.001: every gate passes, so each check grows every field.
    search = dg.DimGrowCallback(emb, dg.SearchConfig(
        max_dim=4, low=0.0, high=0.001, check_every=2, window=1, monitor="loss"))
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[search])
    # 10 steps -> checks at 2,4,6,8,10; a: 1->4 (max_dim 4), b: 1->2 (own max_dim)
    assert emb.dims == {"a": 4, "b": 2}
    assert history.history["dim_a"] == [3, 4] and history.history["dim_b"] == [2, 2]
    assert history.history["total_dims"] == [5, 6]
    assert history.history["embedding_bytes"][-1] == 4 * (10 * 4 + 7 * 2)
    grows = [(e["step"], e["field"], e["from"], e["to"]) for e in search.history]
    assert grows == [(2, "a", 1, 2), (2, "b", 1, 2), (4, "a", 2, 3), (6, "a", 3, 4)]
    assert search.history[0]["action"] == "grow" and search.history[0]["epoch"] == 0
    # Resizes happen in place: the train step is traced once for the fit.
    assert emb.trace_counts["train"] == 1
    assert tuple(emb.field_variables("a")["embeddings"].shape) == (10, 4)


def test_shrink_drops_the_column_whose_gate_collapsed():
    fields = [dg.FieldConfig("a", 10, dim=3), dg.FieldConfig("b", 7)]
    model, emb = make_search_model(fields)
    x, y = random_batch(fields, 64)
    emb.build()
    logits = emb.field_variables("a")["gate_logits"]
    logits.assign([0.0, -5.0, 0.0])
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["table"] = emb.field_variables("a")["embeddings"].numpy().copy()

    search = dg.DimGrowCallback(emb, dg.SearchConfig(check_every=1, window=1))
    with pytest.warns(UserWarning, match="val_auc"):
        model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[Probe(), search])
    assert emb.dims["a"] == 2
    assert search.history[0]["dropped"] == [1]
    kept = emb.field_variables("a")["embeddings"].numpy()
    np.testing.assert_array_equal(kept, seen["table"][:, [0, 2]])


def test_missing_monitor_warns_and_result_uses_last_epoch():
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 64)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(monitor="val_auc"))
    with pytest.warns(UserWarning, match="monitor 'val_auc' is not in the logs"):
        model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[search])
    result = search.result()
    assert result.best_epoch == 1 and result.monitor is None
    assert set(result.dims) == {"a", "b"}


def test_result_is_json_and_reads_best_epoch():
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 128)
    valid = to_dataset(*random_batch(FIELDS, 64, seed=1), 64)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.001, low=0.0, check_every=4, max_dim=3, window=1))
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_data=valid,
              callbacks=[search])
    result = search.result()
    assert result.monitor == "val_auc" and result.best_epoch in (0, 1, 2)
    best = result.best_epoch
    assert result.searched_dims["a"] == min(3, 1 + 4 * (best + 1) // 4)
    for name, gates in result.gates.items():
        assert result.dims[name] == sum(g > 0.5 for g in gates)
        assert len(gates) == result.searched_dims[name]
    again = dg.SearchResult.from_json(result.to_json())
    assert again == result
    json.loads(result.to_json())


def test_darts_gate_updates_use_gate_data_only():
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 64)
    gate_data = to_dataset(*random_batch(FIELDS, 64, seed=2), 16)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(
        high=0.001, low=0.0, window=1, check_every=2, max_dim=3, monitor="loss"),
        gate_data=gate_data)

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            names = [v.path for v in self.model.optimizer._trainable_variables]
            assert not any("gate_logits" in n for n in names)

    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[search, Probe()])
    gates = emb.field_variables("a")["gate_logits"].numpy()
    assert emb.dims["a"] == 3 and np.all(gates[:2] != 0.0)
    assert int(search.gate_optimizer.iterations) == 4
    assert any("gate_logits" in v.path for v in model.trainable_variables)


def test_darts_gate_optimizer_state_is_saved_with_the_weights(tmp_path):
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 64)
    config = dg.SearchConfig(high=0.001, low=0.0, check_every=2, max_dim=3, monitor="loss")
    gate_data = to_dataset(*random_batch(FIELDS, 64, seed=2), 16)
    search = dg.DimGrowCallback(emb, config, gate_data=gate_data)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[search])
    saved = [np.asarray(v) for v in search.gate_optimizer.variables]
    model.save_weights(str(tmp_path / "w.weights.h5"))

    fresh, fresh_emb = make_search_model(FIELDS)
    again = dg.DimGrowCallback(fresh_emb, config, gate_data=gate_data)
    fresh.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[again], steps_per_epoch=1)
    fresh.load_weights(str(tmp_path / "w.weights.h5"))
    restored = [np.asarray(v) for v in again.gate_optimizer.variables]
    assert int(again.gate_optimizer.iterations) == 4 and fresh_emb.dims == emb.dims
    for a, b in zip(saved, restored):
        np.testing.assert_array_equal(a, b)


def test_callback_config_round_trip_and_validation():
    emb = dg.DimGrowEmbedding(FIELDS)
    search = dg.DimGrowCallback(
        emb, dg.SearchConfig(max_dim=8, window=2, check_every=7, budget_bytes=4096), verbose=1)
    config = json.loads(json.dumps(search.get_config()))
    again = dg.DimGrowCallback.from_config(config, layer=emb)
    assert again.get_config() == search.get_config()
    assert again.config == search.config and again.verbose == 1
    assert again.rule == dg.GrowthRule(max_dim=8, window=2, budget_bytes=4096)
    assert dg.DimGrowCallback(emb).config == dg.SearchConfig(), "one source of defaults"
    with pytest.raises(ValueError, match="check_every"):
        dg.DimGrowCallback(emb, dg.SearchConfig(check_every=0))
    with pytest.raises(TypeError, match="DimGrowEmbedding"):
        dg.DimGrowCallback(keras.layers.Dense(2))
    with pytest.raises(ValueError, match="'best'"):
        dg.DimGrowCallback(emb, dg.SearchConfig(mode="best"))
