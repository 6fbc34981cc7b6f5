import numpy as np
import pytest

import dimgrow_tf as dg
from dimgrow_tf.data.datasets import to_dataset
from dimgrow_tf.data.synthetic import make_synthetic_ctr
from dimgrow_tf.data.synthetic import split_rows
from dimgrow_tf.models.builders import uniform_fields
from dimgrow_tf.models.search_and_retrain import retrain
from dimgrow_tf.models.search_and_retrain import search
from dimgrow_tf.models.search_and_retrain import binary_metrics
from dimgrow_tf.models.search_and_retrain import searched_model
from dimgrow_tf.models.search_and_retrain import supernet_config
from dimgrow_tf.models.search_and_retrain import validation_auc

RETRAIN = dg.SearchConfig(final_model="retrain")


def _setup():
    features, labels, fields = make_synthetic_ctr(
        num_rows=6000, signal_fields=2, noise_fields=1, vocab_size=50, seed=3)
    train, valid, test = split_rows(features, labels, seed=3)
    calls = {"n": 0}

    def train_factory():
        calls["n"] += 1
        return to_dataset(*train, 256, shuffle=True, seed=7)

    settings = dg.TrainSettings(epochs=2, seed=5)
    return fields, train_factory, calls, to_dataset(*valid, 1024), test, settings


def _predict(model, test):
    names = [t.name for t in model.inputs]
    return model.predict({k: test[0][k] for k in names}, verbose=0).ravel()


def test_factory_gives_the_retrain_the_order_of_a_standalone_retrain():
    fields, factory, calls, valid, test, settings = _setup()
    run = dg.search_and_retrain(fields, factory, valid, settings, RETRAIN)
    assert calls["n"] == 2  # one fresh dataset for the search, one for the retrain
    alone, _ = retrain(run.result, factory, valid, settings)
    np.testing.assert_allclose(_predict(run.model, test), _predict(alone, test),
                               rtol=1e-5, atol=1e-6)


def test_shared_dataset_object_continues_its_shuffle_sequence():
    fields, factory, calls, valid, test, settings = _setup()
    run = dg.search_and_retrain(fields, factory(), valid, settings, RETRAIN)
    alone, _ = retrain(run.result, factory, valid, settings)
    assert run.result.timings["epochs"] >= 1
    gap = np.abs(_predict(run.model, test) - _predict(alone, test)).max()
    assert gap > 1e-4, gap


def test_supernet_prune_counts_gates_whatever_the_final_dims_rule():
    fields, factory, _, valid, _, settings = _setup()
    config = dg.SearchConfig()
    assert config.final_dims == "widths"
    wide = uniform_fields(fields, 8)
    result, _, _ = search(wide, factory, valid, settings, supernet_config(config, 8))
    assert result.history == []  # low=0, high=1: never resized
    assert result.searched_dims == {f.name: 8 for f in wide}
    for field in result.fields:
        kept = sum(g > 0.5 for g in result.gates[field.name])
        assert field.dim == kept, (field.name, field.dim, result.gates[field.name])
    assert result.total_dims < 8 * len(wide)


def _embedding_dims(model):
    emb = [layer for layer in model.layers if isinstance(layer, dg.FixedFieldEmbedding)]
    return {f.name: f.dim for f in emb[0].fields if f.dim}


def test_final_model_searched_skips_the_retrain_and_folds_the_search_model():
    fields, factory, calls, valid, test, settings = _setup()
    run = dg.search_and_retrain(fields, factory, valid, settings,
                                dg.SearchConfig(final_model="searched"))
    assert calls["n"] == 1  # no retrain
    assert "retrain" not in run.info and "retrain_seconds" not in run.result.timings
    assert run.info["final_model"] == run.result.timings["final_model"] == "searched"
    kept = {k: v for k, v in run.result.dims.items() if v > 0}
    assert _embedding_dims(run.model) == kept
    folded = dg.searched_model(run.search_model, run.result)  # public API
    np.testing.assert_allclose(_predict(run.model, test), _predict(folded, test), atol=1e-6)
    metrics = run.model.evaluate(valid, verbose=0, return_dict=True)  # compiled
    assert 0.0 <= metrics["auc"] <= 1.0


def test_final_model_best_keeps_the_higher_validation_auc():
    fields, factory, calls, valid, test, settings = _setup()
    run = dg.search_and_retrain(fields, factory, valid, settings, dg.SearchConfig())
    assert dg.SearchConfig().final_model == "best" and calls["n"] == 2
    scores = run.info["valid_auc"]
    retrained, _ = retrain(run.result, factory, valid, settings)
    candidates = {"retrained": retrained,
                  "searched": searched_model(run.search_model, run.result)}
    for name, model in candidates.items():
        assert abs(scores[name] - validation_auc(model, valid)) < 1e-4, name
    kept = "searched" if scores["searched"] > scores["retrained"] else "retrained"
    assert run.info["final_model"] == kept
    np.testing.assert_allclose(_predict(run.model, test),
                               _predict(candidates[kept], test), rtol=1e-5, atol=1e-6)


def test_validation_auc_is_the_exact_auc_over_the_whole_dataset():
    fields, factory, _, valid, _, settings = _setup()
    model, _ = retrain(uniform_fields(fields, 2), factory, valid, settings)
    features = {k: np.concatenate([x[k].numpy() for x, _ in valid]) for k in
                [t.name for t in model.inputs]}
    labels = np.concatenate([y.numpy() for _, y in valid])
    expected = binary_metrics(labels, model.predict(features, verbose=0))["auc"]
    assert abs(validation_auc(model, valid) - expected) < 1e-6


def test_a_search_model_that_cannot_be_folded_falls_back_to_the_retrain(monkeypatch):
    # e.g. a field that shrank below its final dims after the best epoch.
    from dimgrow_tf.export.fold_utils import FoldError
    from dimgrow_tf.models import search_and_retrain as module

    def refuse(*args, **kwargs):
        raise FoldError("Field 'b' has fewer columns now")

    monkeypatch.setattr(module, "searched_model", refuse)
    fields, factory, calls, valid, test, settings = _setup()
    with pytest.warns(UserWarning, match="cannot be folded.*retrained"):
        run = dg.search_and_retrain(fields, factory, valid, settings,
                                    dg.SearchConfig(final_model="searched"))
    assert calls["n"] == 2 and run.info["final_model"] == "retrained"
    assert "fewer columns now" in run.info["searched_error"]
    alone, _ = retrain(run.result, factory, valid, settings)
    np.testing.assert_allclose(_predict(run.model, test), _predict(alone, test),
                               rtol=1e-5, atol=1e-6)


def test_searched_model_refuses_dims_the_search_model_no_longer_has():
    from dimgrow_tf.export.fold_utils import FoldError

    fields = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7)]
    model, _ = dg.build_search_model(fields, output_dim=4, seed=0)
    model({"a": np.zeros((2,), "int32"), "b": np.zeros((2,), "int32")})
    wider = [f.with_dim(3) for f in fields]  # e.g. a field shrank after the best epoch
    result = dg.SearchResult.from_gates(wider, {"a": [0.9] * 3, "b": [0.9] * 3})
    with pytest.raises(FoldError, match="final dims"):
        searched_model(model, result)
    exact = dg.SearchResult.from_gates(fields, {"a": [0.9], "b": [0.2]})
    assert _embedding_dims(searched_model(model, exact)) == {"a": 1}
