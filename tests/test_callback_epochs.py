"""The callback's epoch and step bookkeeping under Keras's fit options."""

import keras
import numpy as np
import pytest

import dimgrow_tf as dg
from conftest import make_search_model
from conftest import random_batch

FIELDS = [dg.FieldConfig("a", 12), dg.FieldConfig("b", 7)]


def test_epochs_without_the_monitor_keep_the_best_snapshot():
    emb = dg.DimGrowEmbedding(FIELDS, output_dim=2, seed=1)
    emb.build()
    search = dg.DimGrowCallback(emb, dg.SearchConfig(monitor="val_auc"))
    # validation_freq=2: epoch 1 has no val_auc.
    search.on_epoch_end(0, {"loss": 0.5, "val_auc": 0.90})
    search.on_epoch_end(1, {"loss": 0.4})
    search.on_epoch_end(2, {"loss": 0.3, "val_auc": 0.60})
    result = search.result()
    assert result.best_epoch == 0
    assert result.best_value == pytest.approx(0.90)


def test_validation_freq_in_fit_picks_a_validated_epoch():
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 64)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(check_every=1000))
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_data=(x, y),
              validation_freq=2, callbacks=[search])
    result = search.result()
    # Keras validates only after the 2nd epoch (index 1); the 3rd has no val_auc.
    assert result.best_epoch == 1
    assert result.best_value is not None


@pytest.mark.parametrize("k", [1, 3])
def test_steps_per_execution_counts_training_steps(k):
    model, emb = make_search_model(FIELDS)
    model.compile("adam", "binary_crossentropy", steps_per_execution=k)
    x, y = random_batch(FIELDS, 8 * 12)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.001, low=0.0, check_every=6, window=1, max_dim=16, monitor="loss"))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[search])
    # 12 steps an epoch, 24 in all: checks at steps 6, 12, 18, 24, each a grow.
    assert search.step == 24
    assert sorted({e["step"] for e in search.history}) == [6, 12, 18, 24]
    assert emb.dims == {"a": 5, "b": 5}


def test_early_stopping_restoring_weights_is_refused_before_training():
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 64)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.001, low=0.0, check_every=1, window=1, monitor="loss"))
    stop = keras.callbacks.EarlyStopping("loss", patience=1, restore_best_weights=True)
    before = [v.numpy().copy() for v in model.weights]
    for callbacks in ([search, stop], [stop, search]):
        with pytest.raises(ValueError, match="restore_best_weights=True"):
            model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=callbacks)
    assert emb.dims == {"a": 1, "b": 1}
    for old, new in zip(before, model.weights):
        np.testing.assert_array_equal(old, new.numpy())
    # Without restore_best_weights the search runs.
    stop = keras.callbacks.EarlyStopping("loss", patience=1)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[search, stop])
    assert emb.dims["a"] > 1
