import numpy as np

import dimgrow_tf as dg
from dimgrow_tf.data.synthetic import make_synthetic_ctr
from dimgrow_tf.data.synthetic import split_rows
from dimgrow_tf.models.search_and_retrain import evaluate
from dimgrow_tf.models.search_and_retrain import run_search
from dimgrow_tf.models.search_and_retrain import train_fixed


def test_planted_task_at_default_settings_keeps_noise_fields_at_most_one_dim():
    # 8 fields, 3 informative; every search setting at its default.
    features, labels, fields = make_synthetic_ctr(
        num_rows=30000, signal_fields=3, noise_fields=5, vocab_size=100, seed=0)
    train, valid, test = split_rows(features, labels, seed=0)
    settings = dg.TrainSettings()
    result, info = run_search(fields, train, valid, settings, dg.SearchConfig())
    signal = [result.dims[f"signal_{i}"] for i in range(3)]
    noise = [result.dims[f"noise_{i}"] for i in range(5)]
    assert np.mean(noise) <= 1.0, result.dims
    assert min(signal) >= 2, result.dims
    assert info["resizes"] >= 3 and info["settled"]
    model, _ = train_fixed(result, train, valid, settings)
    metrics = evaluate(model, test)
    assert metrics["auc"] > 0.65, metrics
    assert np.isfinite(metrics["logloss"])
