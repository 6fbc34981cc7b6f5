"""Backbones: DCN-v2 (keras-rs FeatureCross) and DeepFM over per-field projections."""

import importlib.util
import sys

import keras
import numpy as np
import pytest

import dimgrow_tf as dg
from conftest import ScriptedGates
from conftest import config_round_trip
from dimgrow_tf.export.compact_model import compact_model
from dimgrow_tf.layers.deep_fm import DeepFM
from dimgrow_tf.layers.fieldwise_dimgrow_embedding import FieldwiseDimGrowEmbedding

HAS_KERAS_RS = importlib.util.find_spec("keras_rs") is not None
needs_rs = pytest.mark.skipif(
    not HAS_KERAS_RS, reason="keras-rs is not installed (Python >= 3.11, the `rs` extra)")
FIELDS = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, dim=2),
          dg.FieldConfig("g", 6, dim=2, combiner="mean")]
BACKBONES = [pytest.param("dcn_v2", marks=needs_rs), "deepfm", "wide_deep"]


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = {"a": rng.integers(0, 10, n), "b": rng.integers(0, 7, n),
         "g": np.where(rng.random((n, 3)) < 0.6, rng.integers(0, 6, (n, 3)), -1)}
    return x, rng.integers(0, 2, n).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@needs_rs
def test_dcn_v2_golden():
    from dimgrow_tf.layers.dcn_v2 import DCNv2

    head = DCNv2(num_cross_layers=2, hidden_units=())
    x0 = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], "float32")
    out = _np(head(x0))
    rng = np.random.default_rng(0)
    for v in head.weights:
        v.assign(rng.normal(0, 0.5, v.shape).astype("float32"))
    out = _np(head(x0))
    (w0, b0), (w1, b1) = ([_np(v) for v in c.weights] for c in head.cross)
    x1 = x0 * (x0 @ w0 + b0) + x0
    x2 = x0 * (x1 @ w1 + b1) + x1
    w, b = (_np(v) for v in head.deep[-1].weights)
    np.testing.assert_allclose(out, _sigmoid(x2 @ w + b), rtol=1e-5)


def test_deepfm_golden_fm_is_the_sum_of_pairwise_dots():
    head = DeepFM(hidden_units=())
    rng = np.random.default_rng(1)
    v = rng.normal(0, 1, (4, 3, 5)).astype("float32")
    head(v)
    for w in head.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype("float32"))
    flat = v.reshape(4, 15)
    fm = sum((v[:, i] * v[:, j]).sum(-1) for i in range(3) for j in range(i + 1, 3))
    wl, bl = (_np(w) for w in head.linear.weights)
    wd, bd = (_np(w) for w in head.deep[-1].weights)
    expected = _sigmoid(flat @ wl + bl + fm[:, None] + flat @ wd + bd)
    np.testing.assert_allclose(_np(head(v)), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="one projected vector per field"):
        DeepFM()(np.ones((2, 8), "float32"))


def test_fieldwise_embedding_is_the_sum_embedding_split_by_field():
    fieldwise = FieldwiseDimGrowEmbedding(FIELDS, output_dim=4, seed=0)
    summed = dg.DimGrowEmbedding(FIELDS, output_dim=4, seed=0)
    x, _ = _data(8)
    fieldwise(x), summed(x)
    rng = np.random.default_rng(2)
    for f in FIELDS:
        for kind, v in fieldwise.field_variables(f.name).items():
            value = rng.normal(0, 1, v.shape).astype("float32")
            v.assign(value)
            summed.field_variables(f.name)[kind].assign(value)
    per_field = _np(fieldwise(x, training=False))
    assert per_field.shape == (8, 3, 4)
    np.testing.assert_allclose(per_field.sum(axis=1), _np(summed(x, training=False)),
                               rtol=1e-5, atol=1e-5)
    fixed = dg.FixedFieldEmbedding(FIELDS, output_dim=4, output_mode="fields", use_bias=True)
    assert tuple(fixed(x).shape) == (8, 3, 4)
    assert tuple(fixed.projection.bias.shape) == (3, 4)
    with pytest.raises(ValueError, match="output_mode"):
        dg.FixedFieldEmbedding(FIELDS, output_mode="concat")


def test_layer_configs_round_trip():
    head = config_round_trip(DeepFM(hidden_units=(8, 4), dropout=0.1))
    assert head.hidden_units == (8, 4) and head.dropout == 0.1
    fixed = config_round_trip(dg.FixedFieldEmbedding(FIELDS, output_dim=3, output_mode="fields"))
    assert fixed.output_mode == "fields"
    emb = config_round_trip(FieldwiseDimGrowEmbedding(FIELDS, output_dim=3, alpha=0.1))
    assert isinstance(emb, FieldwiseDimGrowEmbedding) and emb.alpha == 0.1
    if HAS_KERAS_RS:
        from dimgrow_tf.layers.dcn_v2 import DCNv2

        dcn = config_round_trip(DCNv2(num_cross_layers=3, projection_dim=2))
        assert (dcn.num_cross_layers, dcn.projection_dim) == (3, 2)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_search_resizes_in_place_and_the_model_round_trips(backbone, tmp_path):
    model, emb = dg.build_search_model(FIELDS, backbone=backbone, output_dim=4, seed=0)
    assert isinstance(emb, FieldwiseDimGrowEmbedding) == (backbone == "deepfm")
    x, y = _data(96)
    plan = {2: {"a": [5.0]}, 4: {"g": [5.0, 5.0]}, 6: {"b": [0.0, -5.0]}}
    search = dg.DimGrowCallback(emb, dg.SearchConfig(
        high=0.99, low=0.01, check_every=2, max_dim=5, monitor="loss"))
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[ScriptedGates(emb, plan), search])
    assert emb.dims["a"] >= 2 and emb.dims["g"] >= 3 and emb.dims["b"] == 1
    assert emb.trace_counts["train"] == 1
    head = model.layers[-1]
    assert all(not np.allclose(w, b) for w, b in zip(head.get_weights(), before[-len(
        head.get_weights()):]) if w.size > 1), "the head trained"
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(loaded(x, training=False)), _np(model(x, training=False)),
                               rtol=1e-6, atol=1e-6)


def _trained_search_model(backbone, rng):
    """A search model after one epoch, with random tables, projections and gates."""
    model, emb = dg.build_search_model(FIELDS, backbone=backbone, output_dim=4, seed=0)
    x, y = _data(64)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for f in FIELDS:
        v = emb.field_variables(f.name)
        for kind, scale in (("embeddings", 1.0), ("projection", 1.0), ("gate_logits", 0.5)):
            v[kind].assign(rng.normal(0, scale, v[kind].shape).astype("float32"))
    return model, emb, x, y


@pytest.mark.parametrize("backbone", BACKBONES)
def test_compact_export_model_equals_eager(backbone):
    model, emb, x, y = _trained_search_model(backbone, np.random.default_rng(3))
    expected = _np(model(x, training=False))
    assert np.ptp(expected) > 0.05
    np.testing.assert_allclose(_np(compact_model(model)(x, training=False)), expected,
                               atol=2e-5)
    retrained = dg.build_model(FIELDS, backbone=backbone, output_dim=4)
    retrained.fit(x, y, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_allclose(_np(compact_model(retrained)(x, training=False)),
                               _np(retrained(x, training=False)), atol=1e-6)


def test_deepfm_fold_keeps_a_dropped_field_as_its_mean_vector_and_retrain_drops_it():
    rng = np.random.default_rng(5)
    model, emb, x, y = _trained_search_model("deepfm", rng)
    b = emb.field_variables("b")  # every row at the moving mean: dropping b is exact
    b["moving_mean"].assign(rng.normal(0, 1.0, b["moving_mean"].shape).astype("float32"))
    b["embeddings"].assign(np.tile(_np(b["moving_mean"]), (7, 1)))
    result = dg.SearchResult.from_gates(emb.fields, {"a": [0.9], "b": [0.2, 0.1],
                                                     "g": [0.7, 0.6]})
    assert result.dims == {"a": 1, "b": 0, "g": 2}
    compact = compact_model(model, result=result)
    assert sorted(t.name for t in compact.inputs) == ["a", "g"]
    assert tuple(compact.get_layer("folded_embedding").output.shape) == (None, 3, 4)
    expected = _np(model(x, training=False))
    assert np.ptp(expected) > 0.05
    np.testing.assert_allclose(_np(compact({"a": x["a"], "g": x["g"]}, training=False)),
                               expected, atol=2e-5)
    searched = dg.searched_model(model, result)
    np.testing.assert_allclose(_np(searched({"a": x["a"], "g": x["g"]}, training=False)),
                               expected, atol=2e-5)
    retrained = dg.build_model(result, backbone="deepfm", output_dim=4)
    assert tuple(retrained.get_layer("field_embedding").output.shape) == (None, 2, 4)


def test_dcn_v2_without_keras_rs_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_rs", None)
    with pytest.raises(ImportError, match=r"dimgrow-tf\[rs\]") as raised:
        dg.build_model(FIELDS, backbone="dcn_v2")
    if sys.version_info < (3, 11):
        assert "keras-rs needs Python >= 3.11" in str(raised.value)
    with pytest.raises(ValueError, match="dcn_v2.*deepfm"):
        dg.build_model(FIELDS, backbone="dcn")


def test_cli_backbone_flag_is_a_train_setting_the_retrain_inherits(capsys):
    from dimgrow_tf import cli

    search = cli._parser().parse_args(["search", "data", "--backbone", "deepfm"])
    assert cli._settings(search).backbone == "deepfm"
    assert cli._settings(cli._parser().parse_args(["search", "data"])).backbone == "wide_deep"
    retrain = cli._parser().parse_args(["retrain", "data", "--result", "r.json"])
    assert cli._settings(retrain, {"backbone": "dcn_v2"}).backbone == "dcn_v2"
    override = cli._parser().parse_args(
        ["retrain", "data", "--result", "r.json", "--backbone", "mlp"])
    assert cli._settings(override, {"backbone": "dcn_v2"}).backbone == "mlp"
    with pytest.raises(SystemExit) as exited:
        cli._parser().parse_args(["search", "data", "--backbone", "dcn"])
    assert exited.value.code == 2
    assert "invalid choice: 'dcn'" in capsys.readouterr().err


def test_cli_search_retrain_export_with_deepfm(tmp_path):
    import json

    from test_cli import _run
    from test_cli import _split_dir

    _split_dir(tmp_path / "data")
    out = tmp_path / "run"
    proc = _run("search", tmp_path / "data", "--out", out, "--backbone", "deepfm",
                "--epochs", "1", "--verbose", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "search_result.json").read_text())["settings"]["backbone"] == "deepfm"
    proc = _run("retrain", tmp_path / "data", "--result", out / "search_result.json",
                "--out", out, "--verbose", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    retrained = keras.saving.load_model(out / "retrained.keras")
    assert isinstance(retrained.layers[-1], DeepFM)
    assert json.loads((out / "metrics.json").read_text())["settings"]["backbone"] == "deepfm"
    proc = _run("export", out / "search_model.keras", "--export-base", tmp_path / "exp",
                "--current-widths", "--predict", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 0.0 < json.loads(proc.stdout.strip().splitlines()[-1])["probability"] < 1.0
