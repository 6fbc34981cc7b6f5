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


def _settle_run(early_first, grow_steps=(2, 6, 10, 14), settle_checks=4):
    fields = [dg.FieldConfig("a", 12), dg.FieldConfig("b", 5)]
    x, y = random_batch(fields, 64)
    model, emb = dg.build_search_model(fields, output_dim=4, seed=0)
    # 4 steps per epoch: step s (1-based) is in epoch (s - 1) // 4.
    grows = ScriptedGates(emb, {s: {"a": [5.0]} for s in grow_steps})
    search = dg.DimGrowCallback(emb, dg.SearchConfig(
        check_every=1, settle_checks=settle_checks, max_dim=8, monitor="loss"))
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


@pytest.mark.parametrize("early_first", [False, True])
def test_default_settle_rule_holds_every_epoch_that_resized(early_first):
    assert dg.SearchConfig().settle_checks is None
    # Resizes at steps 4 (end of epoch 0) and 5 (start of epoch 1): epoch 1
    # had 3 quiet checks after its resize and still does not count; with
    # settle_checks=2 it would (checked below).
    history, emb, search = _settle_run(early_first, grow_steps=(4, 5), settle_checks=None)
    assert history["dimgrow_settled"] == [0.0, 0.0, 1.0]
    assert [e["epoch"] for e in search.history] == [0, 1] and emb.dims["a"] == 3
    history, _, _ = _settle_run(early_first, grow_steps=(4, 5), settle_checks=2)
    assert history["dimgrow_settled"] == [0.0, 1.0]


def test_column_bytes_count_table_projection_gate_and_slots():
    model, emb = dg.build_search_model([dg.FieldConfig("a", 100), dg.FieldConfig("b", 7)],
                                       output_dim=8)
    model.optimizer.build(model.trainable_variables)
    # LazyAdam keeps 2 slots for the trained table, projection and gate; the
    # moving mean is not trained.
    assert column_bytes(emb, [model.optimizer]) == {
        "a": (100 + 8 + 1) * 4 * 3 + 4, "b": (7 + 8 + 1) * 4 * 3 + 4}


@pytest.mark.parametrize("rule, dims", [("gates", {"a": 2, "b": 0}),
                                        ("widths", {"a": 3, "b": 0})])
def test_final_dims_rule_counts_gates_or_keeps_a_kept_fields_width(rule, dims):
    fields = [dg.FieldConfig("a", 12, dim=3), dg.FieldConfig("b", 5, dim=2)]
    x, y = random_batch(fields, 64)
    model, emb = dg.build_search_model(fields, output_dim=4, seed=0)
    # Gates 0.99 / 0.38 / 0.99 for a and 0.38 / 0.01 for b; no check runs.
    gates = ScriptedGates(emb, {1: {"a": [1.0, -0.1, 1.0], "b": [-0.1, -1.0]}})
    search = dg.DimGrowCallback(
        emb, dg.SearchConfig(check_every=1000, monitor="loss", final_dims=rule))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[gates, search])
    result = search.result()
    assert result.dims == dims
    assert result.searched_dims == {"a": 3, "b": 2}
    retrained = dg.build_model(result, output_dim=4)
    table = retrained.get_layer("field_embedding")
    assert {f.name: f.dim for f in table.fields if f.dim} == {"a": dims["a"]}
    with pytest.raises(ValueError, match="final_dims"):
        dg.SearchConfig(final_dims="best")
    with pytest.raises(ValueError, match="final_model"):
        dg.SearchConfig(final_model="widths")
