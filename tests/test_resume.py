import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dimgrow_tf as dg
from conftest import make_search_model
from conftest import random_batch

FIELDS = [dg.FieldConfig("a", 20), dg.FieldConfig("b", 7, max_dim=2)]


def _grown(tmp_path):
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 128)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(max_dim=4, high=0.001, low=0.0, check_every=2, window=1, monitor="loss"))
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[search])
    path = str(tmp_path / "ckpt.weights.h5")
    model.save_weights(path)
    return model, emb, search, x, y, path


def test_load_weights_into_fresh_model_resizes_and_restores_search_state(tmp_path):
    model, emb, search, x, y, path = _grown(tmp_path)
    assert emb.dims == {"a": 4, "b": 2}
    fresh, fresh_emb = make_search_model(FIELDS)
    fresh.optimizer.build(fresh.trainable_variables)
    fresh_search = dg.DimGrowCallback(fresh_emb, dg.SearchConfig(max_dim=4, monitor="loss"))
    fresh_search.set_model(fresh)
    fresh.load_weights(path)
    assert fresh_emb.dims == {"a": 4, "b": 2}
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-7)
    assert fresh_search.step == search.step == 8
    assert fresh_search.history == search.history
    for old, new in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(new.numpy(), old.numpy(), err_msg=old.path)
    np.testing.assert_array_equal(fresh_emb.seed_generator.state.numpy(), emb.seed_generator.state.numpy())
    fresh.fit(x, y, batch_size=32, epochs=1, verbose=0)


def test_load_with_other_widths_and_no_callback_fails_clearly(tmp_path):
    *_, path = _grown(tmp_path)
    fresh, _ = make_search_model(FIELDS)
    with pytest.raises(ValueError, match="but the saved weights have"):
        fresh.load_weights(path)


SCRIPT = textwrap.dedent('''
    import json, os, signal, sys
    import keras, numpy as np, tensorflow as tf
    import dimgrow_tf as dg
    from dimgrow_tf.data.synthetic import make_synthetic_ctr

    keras.utils.set_random_seed(7)
    tf.config.experimental.enable_op_determinism()
    out, backup, kill_step = sys.argv[1], sys.argv[2], int(sys.argv[3])
    x, y, fields = make_synthetic_ctr(num_rows=1600, signal_fields=2, noise_fields=2,
                                      vocab_size=30, seed=3)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(100)
    # The default search path: LazyAdam (per-slice steps) and DARTS gate
    # updates. One gate batch, so its position need not be checkpointed.
    gate_data = train.take(1)
    model, emb = dg.build_search_model(fields, backbone="mlp", seed=5, output_dim=8,
                                       alpha=0.0)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(
        high=0.52, low=0.3, check_every=4, max_dim=4, window=1, monitor="loss",
        gate_learning_rate=0.05), gate_data=gate_data)

    class Kill(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if search.step == kill_step:
                os.kill(os.getpid(), signal.SIGKILL)

    model.fit(train, epochs=6, verbose=0, callbacks=[
        search, keras.callbacks.BackupAndRestore(backup, double_checkpoint=True), Kill()])
    state = search.get_state()
    json.dump({"dims": emb.dims, "history": search.history, "step": search.step,
               "slice_steps": state["slice_steps"], "gate_optimizer": state["gate_optimizer"],
               "result": search.result().get_config(),
               "weights": [w.tolist() for w in model.get_weights()]}, open(out, "w"))
''')


def _run(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(script), *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=600)


def test_sigkill_mid_search_resumes_to_the_same_result(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    plain = _run(script, tmp_path / "plain.json", tmp_path / "b1", -1)
    assert plain.returncode == 0, plain.stderr[-3000:]
    killed = _run(script, tmp_path / "resumed.json", tmp_path / "b2", 40)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert not (tmp_path / "resumed.json").exists()
    assert os.path.exists(tmp_path / "b2" / "latest.weights.h5")
    resumed = _run(script, tmp_path / "resumed.json", tmp_path / "b2", -1)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = json.loads((tmp_path / "plain.json").read_text())
    b = json.loads((tmp_path / "resumed.json").read_text())
    assert a["history"], "the search resized"
    assert any(e["step"] > 40 for e in a["history"]) or a["step"] > 40
    assert b["dims"] == a["dims"] and b["history"] == a["history"] and b["step"] == a["step"]
    assert b["result"] == a["result"]
    assert b["slice_steps"] == a["slice_steps"] and a["slice_steps"]["gates"]
    np.testing.assert_allclose(np.concatenate([np.ravel(v) for v in b["gate_optimizer"]]),
                               np.concatenate([np.ravel(v) for v in a["gate_optimizer"]]),
                               rtol=0, atol=1e-6)
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_allclose(np.array(wb), np.array(wa), rtol=0, atol=1e-6)


def test_truncated_checkpoint_falls_back_to_the_previous_good_one(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    killed = _run(script, tmp_path / "r.json", tmp_path / "b", 40)
    assert killed.returncode == -9
    latest = tmp_path / "b" / "latest.weights.h5"
    data = latest.read_bytes()
    latest.write_bytes(data[: len(data) // 2])
    resumed = _run(script, tmp_path / "r.json", tmp_path / "b", -1)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((tmp_path / "r.json").read_text())["step"] == 96
