import numpy as np

from dimgrow_tf.data.synthetic import make_synthetic_ctr
from dimgrow_tf.data.synthetic import split_rows
from dimgrow_tf.models.search_and_retrain import TrainSettings
from dimgrow_tf.models.search_and_retrain import evaluate
from dimgrow_tf.models.search_and_retrain import run_search
from dimgrow_tf.models.search_and_retrain import train_fixed


def test_planted_signal_fields_get_more_dims_than_noise_fields():
    features, labels, fields = make_synthetic_ctr(num_rows=30000, vocab_size=100, seed=0)
    train, valid, test = split_rows(features, labels, seed=0)
    settings = TrainSettings(epochs=6, batch_size=256, patience=6, seed=0)
    result, info = run_search(fields, train, valid, settings)
    signal = [result.dims[f"signal_{i}"] for i in range(3)]
    noise = [result.dims[f"noise_{i}"] for i in range(3)]
    assert min(signal) >= 2, result.dims
    assert max(noise) <= 1, result.dims
    assert min(signal) > max(noise)
    assert info["resizes"] >= 1
    model, _ = train_fixed(result, train, valid, settings)
    metrics = evaluate(model, test)
    assert metrics["auc"] > 0.65, metrics
    assert np.isfinite(metrics["logloss"])
