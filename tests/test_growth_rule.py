import numpy as np
import pytest

import dimgrow_tf as dg
from conftest import config_round_trip


def _fields(**dims):
    return [dg.FieldConfig(name, 10, dim=d) for name, d in dims.items()]


def test_grow_when_every_gate_above_high():
    rule = dg.GrowthRule(window=1)
    plan, streaks = rule.decide(
        _fields(a=2, b=2), {"a": np.array([0.7, 0.65]), "b": np.array([0.9, 0.5])}, {}
    )
    assert plan == {"a": dg.FieldResize((0, 1), grow=1)}
    assert streaks == {"a": (0, 0), "b": (0, 0)}


def test_shrink_drops_the_collapsed_column_not_the_last():
    plan, _ = dg.GrowthRule(window=1).decide(_fields(a=3), {"a": np.array([0.9, 0.001, 0.8])}, {})
    assert plan == {"a": dg.FieldResize((0, 2))}


def test_shrink_never_empties_a_field_and_keeps_width_one():
    plan, _ = dg.GrowthRule(window=1).decide(
        _fields(a=2, b=1), {"a": np.array([0.002, 0.005]), "b": np.array([0.0])}, {}
    )
    assert plan == {"a": dg.FieldResize((1,))}


def test_window_requires_consecutive_checks():
    rule = dg.GrowthRule(window=2)
    fields, gates = _fields(a=1), {"a": np.array([0.9])}
    plan, streaks = rule.decide(fields, gates, {})
    assert plan == {} and streaks == {"a": (1, 0)}
    plan, streaks = rule.decide(fields, {"a": np.array([0.5])}, streaks)
    assert plan == {} and streaks == {"a": (0, 0)}
    plan, streaks = rule.decide(fields, gates, streaks)
    plan, streaks = rule.decide(fields, gates, streaks)
    assert plan == {"a": dg.FieldResize((0,), grow=1)}


def test_budget_and_max_dims():
    rule = dg.GrowthRule(budget=5, max_dim=3, window=1)
    fields = _fields(a=2, b=2, c=3) + [dg.FieldConfig("d", 5, dim=1, max_dim=1)]
    gates = {"a": np.array([0.7, 0.9]), "b": np.array([0.95, 0.8]),
             "c": np.array([0.9] * 3), "d": np.array([0.99])}
    # total 8 > budget: nobody grows; c is at max_dim; d at its own max_dim.
    assert rule.decide(fields, gates, {})[0] == {}
    rule = dg.GrowthRule(budget=9, max_dim=3, window=1)
    plan, _ = rule.decide(fields, gates, {})
    assert plan == {"b": dg.FieldResize((0, 1), grow=1)}, "highest min gate first"


def test_dropped_fields_are_ignored():
    plan, streaks = dg.GrowthRule().decide(_fields(a=0), {}, {})
    assert plan == {} and streaks == {}


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(low=0.7, high=0.6), "low=0.7"), (dict(window=0), "window=0"),
     (dict(max_dim=1.5), "max_dim=1.5"), (dict(budget=True), "budget=True")],
)
def test_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dg.GrowthRule(**kwargs)


def test_round_trip():
    rule = dg.GrowthRule(low=0.02, high=0.7, max_dim=8, budget=50, window=3)
    assert config_round_trip(rule) == rule


def test_budget_bytes_grows_the_cheapest_useful_dims_first():
    rule = dg.GrowthRule(window=1, budget_bytes=2_000)
    fields = _fields(wide=1, narrow=1, idle=1)
    gates = {"wide": np.array([0.99]), "narrow": np.array([0.7]), "idle": np.array([0.5])}
    cost = {"wide": 900, "narrow": 100, "idle": 50}
    used = 900 + 100 + 50
    plan, _ = rule.decide(fields, gates, {}, column_bytes=cost)
    assert set(plan) == {"narrow"}, "wide (higher gate) does not fit after narrow"
    roomy = dg.GrowthRule(window=1, budget_bytes=used + 1_000)
    assert set(roomy.decide(fields, gates, {}, column_bytes=cost)[0]) == {"narrow", "wide"}
    with pytest.raises(ValueError, match="column_bytes"):
        rule.decide(fields, gates, {})
    with pytest.raises(ValueError, match="budget_bytes=0"):
        dg.GrowthRule(budget_bytes=0)
    assert config_round_trip(rule) == rule
