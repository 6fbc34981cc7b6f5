import numpy as np

import dimgrow_tf as dg
from dimgrow_tf.data.synthetic import make_synthetic_ctr
from dimgrow_tf.data.synthetic import split_rows
from dimgrow_tf.models.search_and_retrain import evaluate
from dimgrow_tf.models.search_and_retrain import run_search
from dimgrow_tf.models.search_and_retrain import train_fixed


def _planted_search(seed):
    # 8 fields, 3 informative; every search setting at its default.
    features, labels, fields = make_synthetic_ctr(
        num_rows=30000, signal_fields=3, noise_fields=5, vocab_size=100, seed=seed)
    train, valid, test = split_rows(features, labels, seed=seed)
    result, info = run_search(fields, train, valid, dg.TrainSettings(), dg.SearchConfig())
    assert info["resizes"] >= 3 and info["settled"], info
    return result, train, valid, test


def test_planted_task_at_default_settings_keeps_noise_fields_at_most_one_dim():
    # Averaged over three planted tasks: one search is not reproducible to
    # the last float across machines, and a noise field's gate can sit near
    # the thresholds (seed 0 gives 0.8-1.2 by machine and Keras version).
    noise, signal = [], []
    for seed in (0, 1, 2):
        result, train, valid, test = _planted_search(seed)
        noise += [result.dims[f"noise_{i}"] for i in range(5)]
        signal += [result.dims[f"signal_{i}"] for i in range(3)]
        if seed == 0:
            model, _ = train_fixed(result, train, valid, dg.TrainSettings())
            metrics = evaluate(model, test)
            assert metrics["auc"] > 0.65, metrics
            assert np.isfinite(metrics["logloss"])
    assert np.mean(noise) <= 1.0, noise
    assert max(noise) <= 2 and min(signal) >= 2, (noise, signal)
    assert np.mean(signal) >= 2 * np.mean(noise) + 2, (noise, signal)
