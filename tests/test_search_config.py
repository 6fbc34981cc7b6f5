"""SearchConfig, TrainSettings and the search's settle rule."""

import inspect

import keras
import pytest

import dimgrow_tf as dg
from conftest import ScriptedGates
from conftest import config_round_trip
from conftest import random_batch
from dimgrow_tf.callbacks.callback_utils import column_bytes


def test_configs_round_trip_and_validate():
    config = dg.SearchConfig(alpha=0.1, budget_bytes=1 << 20, window=2, check_every=5,
                             settle_checks=7, monitor="val_loss", mode="min")
    assert config_round_trip(config) == config
    assert config.growth_rule() == dg.GrowthRule(window=2, budget_bytes=1 << 20)
    assert not config.maximize and dg.SearchConfig().maximize
    settings = dg.TrainSettings(batch_size=64, epochs=3)
    assert config_round_trip(settings) == settings
    for bad, message in [(dict(check_every=0), "check_every"), (dict(settle_checks=1.5), "settle"),
                         (dict(mode="best"), "'best'"), (dict(low=0.9), "low=0.9"),
                         (dict(alpha=-1.0), "alpha")]:
        with pytest.raises(ValueError, match=message):
            dg.SearchConfig(**bad)
    with pytest.raises(ValueError, match="Unknown SearchConfig keys"):
        dg.SearchConfig.from_config({"check_evry": 3})


def test_public_constructors_take_at_most_five_arguments():
    for cls in (dg.DimGrowCallback,):
        params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        assert len(params) <= 5, (cls.__name__, params)


def _settle_run(early_first):
    fields = [dg.FieldConfig("a", 12), dg.FieldConfig("b", 5)]
    x, y = random_batch(fields, 64)
    model, emb = dg.build_search_model(fields, output_dim=4, seed=0)
    # 4 steps per epoch; a grow at steps 2, 6, 10 and 14 (epochs 0-3).
    grows = ScriptedGates(emb, {s: {"a": [5.0]} for s in (2, 6, 10, 14)})
    search = dg.DimGrowCallback(
        emb, dg.SearchConfig(check_every=1, settle_checks=4, max_dim=8, monitor="loss"))
    # min_delta so large that no epoch counts as an improvement.
    stop = keras.callbacks.EarlyStopping("loss", patience=1, min_delta=1e9)
    callbacks = [grows, stop, search] if early_first else [grows, search, stop]
    history = model.fit(x, y, batch_size=16, epochs=20, verbose=0, callbacks=callbacks)
    return history.history, emb, search


@pytest.mark.parametrize("early_first", [False, True])
def test_early_stopping_waits_until_widths_settle(early_first):
    history, emb, search = _settle_run(early_first)
    # Without the hold EarlyStopping ends at epoch 1; the widths change until
    # epoch 3 and epoch 4 is the first settled one, where patience 1 runs out.
    assert history["dimgrow_settled"] == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert len(history["loss"]) == 5
    assert emb.dims["a"] == 5 and [e["step"] for e in search.history] == [2, 6, 10, 14]
    assert search.settled


def test_column_bytes_count_table_projection_gate_and_slots():
    model, emb = dg.build_search_model([dg.FieldConfig("a", 100), dg.FieldConfig("b", 7)],
                                       output_dim=8)
    model.optimizer.build(model.trainable_variables)
    # LazyAdam keeps 2 slots for the trained table, projection and gate; the
    # moving mean is not trained.
    assert column_bytes(emb, [model.optimizer]) == {
        "a": (100 + 8 + 1) * 4 * 3 + 4, "b": (7 + 8 + 1) * 4 * 3 + 4}
