import json
import os
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
from dimgrow_tf.data.synthetic import make_synthetic_ctr
from dimgrow_tf.distribute.checkpoint_utils import latest_checkpoint
from dimgrow_tf.distribute.checkpoint_utils import restore_checkpoint
from dimgrow_tf.distribute.checkpoint_utils import save_checkpoint
from dimgrow_tf.distribute.distributed_fit import distributed_fit
from dimgrow_tf.distribute.distributed_fit_config import DistributedFitConfig
from dimgrow_tf.distribute.launch import LocalCluster
from dimgrow_tf.distribute.launch import free_ports
from dimgrow_tf.distribute.launch import tf_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 240

# One search (>= 2 resizes) and one retrain, run by every worker. "local2"
# is the one-process reference: MirroredStrategy on two logical CPUs, the
# same global batch (128, two replicas of 64) and seed.
WORKER = textwrap.dedent('''
    import json, os, random, signal, sys
    args = json.loads(sys.argv[1])
    import tensorflow as tf
    if args.get("local2"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras, numpy as np
    import dimgrow_tf as dg
    from dimgrow_tf.data.synthetic import make_synthetic_ctr
    from dimgrow_tf.distribute.cluster_utils import worker_label
    from dimgrow_tf.resize.field_resize import FieldResize
    from dimgrow_tf.resize.model_resize import apply_resize

    label = worker_label(strategy)
    keras.utils.set_random_seed(0)
    x, y, fields = make_synthetic_ctr(
        num_rows=4096, vocab_size=50, signal_fields=2, noise_fields=2, seed=1)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)

    def batches(rows):
        data = ({k: v[rows] for k, v in x.items()}, y[rows])
        return (tf.data.Dataset.from_tensor_slices(data)
                .batch(128, drop_remainder=True).with_options(options))

    train, valid = batches(slice(0, 3072)), batches(slice(3072, 4096))
    with strategy.scope():
        model, emb = dg.build_search_model(
            fields, backbone="mlp", output_dim=8, seed=0, learning_rate=0.03)

    class Faults(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if label != "worker_1":
                return
            if [self.epoch, batch] == args.get("crash_at"):
                os.kill(os.getpid(), signal.SIGKILL)
            if [self.epoch, batch] == args.get("rogue_at"):
                width = emb.dims["noise_0"]
                apply_resize(model, emb, {"noise_0": FieldResize.grow_by(width)})

    if args.get("drift") and label == "worker_1":
        random.seed(99)  # grown columns would differ without the broadcast
    if args.get("reseed"):
        random.seed(args["reseed"])  # ... and without the checkpointed state
    search = dg.DimGrowCallback(emb, dg.SearchConfig(
        check_every=4, max_dim=4, window=1, high=0.55, low=0.05))
    history = dg.distributed_fit(model, train, valid, epochs=4,
                              callbacks=[search, Faults()],
                              checkpoint_dir=args.get("ckpt"))
    result = search.result()
    with strategy.scope():
        fixed = dg.build_model(result, backbone="mlp", output_dim=8, learning_rate=0.03)
    retrain = dg.distributed_fit(fixed, train, valid, epochs=2)
    table = emb.field_variables("signal_0")["embeddings"]
    if args.get("export"):
        # Every worker calls the model: its out-of-range counter is a
        # sync-on-read metric, so an eager call all-reduces. The export runs
        # no collective: the chief alone writes it.
        eager = np.asarray(fixed({k: v[:16] for k, v in x.items()}, training=False))
        if label in ("worker_0", "chief_0"):
            result.save(os.path.join(args["out"], "search_result.json"))
            dg.export_saved_model(fixed, os.path.join(args["out"], "export"), version=1,
                                  warmup=False)
            with open(os.path.join(args["out"], "eager.json"), "w") as f:
                json.dump(eager.reshape(-1).tolist(), f)
    out = {
        "replicas": strategy.num_replicas_in_sync,
        "dims": emb.dims,
        "final": result.dims,
        "events": search.history,
        "history": history.history,
        "traces": history.traces,
        "broadcasts": history.broadcasts,
        "retrain": retrain.history,
        "table_type": type(table.value).__name__,
    }
    os.makedirs(args["out"], exist_ok=True)
    with open(os.path.join(args["out"], label + ".json"), "w") as f:
        json.dump(out, f)
    np.savez(os.path.join(args["out"], label + ".npz"),
             *[np.asarray(w) for w in model.get_weights() + fixed.get_weights()])
''')


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)


def _command(tmp, **args):
    script = tmp / "worker.py"
    script.write_text(WORKER)
    return [sys.executable, str(script), json.dumps(args)]


def _cluster(tmp, name, **args):
    out = tmp / name
    command = _command(tmp, out=str(out), **args)
    return LocalCluster(command, 2, env=_env(), log_dir=str(out / "logs")), out


def _logs(out):
    folder = out / "logs"
    return "\n".join(p.read_text()[-3000:] for p in sorted(folder.glob("*.log")))


def _load(out, label):
    data = json.loads((out / f"{label}.json").read_text())
    weights = np.load(out / f"{label}.npz")
    data["weights"] = [weights[k] for k in sorted(weights.files, key=lambda k: int(k[4:]))]
    return data


def _run_two_workers(tmp, name, **args):
    cluster, out = _cluster(tmp, name, **args)
    with cluster:
        codes = cluster.wait(timeout=TIMEOUT)
    assert codes == [0, 0], _logs(out)
    return [_load(out, f"worker_{i}") for i in range(2)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("multi_worker")


@pytest.fixture(scope="module")
def two_workers(workdir):
    return _run_two_workers(workdir, "uninterrupted", ckpt=str(workdir / "ckpt"), drift=True,
                            export=True)


@pytest.fixture(scope="module")
def one_process(workdir):
    out = workdir / "local2"
    proc = subprocess.run(_command(workdir, out=str(out), local2=True), env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return _load(out, "chief_0")


def _resize_steps(events):
    return sorted({e["step"] for e in events})


def _assert_same_run(a, b, weights_atol=0.0):
    assert a["dims"] == b["dims"] and a["final"] == b["final"]
    assert a["events"] == b["events"]
    assert len(a["weights"]) == len(b["weights"])
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=weights_atol)


def test_two_workers_take_the_same_resizes_and_keep_equal_weights(two_workers):
    chief, worker = two_workers
    assert chief["replicas"] == 2
    assert len(_resize_steps(chief["events"])) >= 2
    assert chief["table_type"] == "MirroredVariable"
    # Resizes in place under MultiWorkerMirroredStrategy: one trace each.
    assert chief["traces"] == {"train": 1, "eval": 1}
    # Worker 1's Python RNG was reseeded: the grown columns were broadcast
    # from the chief once per growing step, and every weight is bit-equal.
    grows = {e["step"] for e in chief["events"] if e["action"] == "grow"}
    assert chief["broadcasts"] == worker["broadcasts"] == len(grows)
    _assert_same_run(chief, worker)
    assert chief["history"] == worker["history"]
    assert chief["retrain"] == worker["retrain"]
    assert chief["history"]["dim_signal_0"][-1] == chief["dims"]["signal_0"]
    assert chief["retrain"]["loss"][1] < chief["retrain"]["loss"][0]


def test_the_chief_writes_the_result_and_an_export_that_serves_the_retrained_model(
        workdir, two_workers):
    out = workdir / "uninterrupted"
    result = dg.SearchResult.load(str(out / "search_result.json"))
    assert result.dims == two_workers[0]["final"]
    assert sorted(p.name for p in (out / "export" / "dimgrow").iterdir()) == ["1"]
    serve = tf.saved_model.load(str(out / "export" / "dimgrow" / "1")).signatures[
        "serving_default"]
    x, _, _ = make_synthetic_ctr(num_rows=4096, vocab_size=50, signal_fields=2,
                                 noise_fields=2, seed=1)
    kept = [name for name, dim in result.dims.items() if dim > 0]
    served = serve(**{k: tf.constant(x[k][:16], tf.int64) for k in kept})["probability"]
    eager = json.loads((out / "eager.json").read_text())
    np.testing.assert_allclose(served.numpy().reshape(-1), eager, rtol=0, atol=1e-5)


def test_two_workers_equal_one_process_with_the_same_global_batch(two_workers, one_process):
    chief = two_workers[0]
    assert one_process["replicas"] == 2
    _assert_same_run(chief, one_process, weights_atol=1e-6)
    for key in ("val_auc", "auc", "total_dims"):
        np.testing.assert_allclose(chief["history"][key], one_process["history"][key],
                                   rtol=0, atol=1e-6)
    # Under MirroredStrategy a replica's `model.losses` also holds the other
    # local replica's gate regulariser (add_loss), so the loss values (not
    # the gradients: weights above are equal) differ by about that term.
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(chief["history"][key], one_process["history"][key],
                                   rtol=0, atol=2e-3)
    np.testing.assert_allclose(chief["retrain"]["val_auc"], one_process["retrain"]["val_auc"],
                               rtol=0, atol=1e-6)


def test_killed_worker_resumes_to_the_same_search(workdir, two_workers):
    ckpt = str(workdir / "ckpt_killed")
    cluster, out = _cluster(workdir, "killed", ckpt=ckpt, crash_at=[2, 3])
    with cluster:
        deadline = time.monotonic() + TIMEOUT
        while cluster.poll()[1] is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cluster.poll()[1] == -9, _logs(out)
    # The chief waited in a collective for the dead worker; both were stopped.
    assert latest_checkpoint(ckpt).endswith("epoch-00002")
    # Restarted processes start from other Python random states: the resume
    # restores the chief's, from which Keras seeds the later grown columns.
    resumed = _run_two_workers(workdir, "resumed", ckpt=ckpt, reseed=7)
    for run in resumed:
        _assert_same_run(run, two_workers[0])
        assert run["history"] == two_workers[0]["history"]
        assert run["retrain"] == two_workers[0]["retrain"]
    assert latest_checkpoint(ckpt).endswith("epoch-00004")


def test_workers_that_disagree_on_widths_stop_with_an_error(workdir):
    cluster, out = _cluster(workdir, "rogue", rogue_at=[0, 2])
    with cluster:
        codes = cluster.wait(timeout=TIMEOUT, stop_on_failure=False)
    assert codes[0] != 0 and codes[1] != 0
    logs = _logs(out)
    assert logs.count("DimGrow: workers disagree on (epoch, step, iterations, widths)") == 2


def _small_search(strategy=None):
    x, y, fields = make_synthetic_ctr(
        num_rows=512, vocab_size=20, signal_fields=1, noise_fields=1, seed=3)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    model, emb = dg.build_search_model(fields, backbone="mlp", output_dim=4, seed=2,
                                       learning_rate=0.05)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(check_every=2, max_dim=3, window=1,
                                                     high=0.001, low=0.0, monitor="loss"))
    return model, emb, search, data


def test_distributed_fit_without_strategy_matches_keras_fit():
    keras.utils.set_random_seed(5)
    model, emb, search, data = _small_search()
    fit = model.fit(data, validation_data=data, epochs=2, verbose=0, shuffle=False,
                    callbacks=[search])
    expected = (emb.dims, list(search.history), [w.copy() for w in model.get_weights()])
    keras.backend.clear_session()
    keras.utils.set_random_seed(5)
    model, emb, search, data = _small_search()
    ours = distributed_fit(model, data, data, epochs=2, callbacks=[search])
    assert emb.dims == expected[0] == {"signal_0": 3, "noise_0": 3}
    assert search.history == expected[1]
    for a, b in zip(model.get_weights(), expected[2]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    for key in ("loss", "auc", "val_loss", "val_auc", "total_dims"):
        np.testing.assert_allclose(ours.history[key], fit.history[key], rtol=1e-5, atol=1e-6)


def test_checkpoint_keeps_the_newest_and_restores_widths_and_search(tmp_path):
    model, emb, search, data = _small_search()
    strategy = model.distribute_strategy
    history = distributed_fit(model, data, epochs=3, callbacks=[search],
                              checkpoint_dir=str(tmp_path),
                              config=DistributedFitConfig(keep_checkpoints=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.json", "epoch-00002", "epoch-00003"]
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / "epoch-00003")
    keras.backend.clear_session()
    fresh, fresh_emb, fresh_search, _ = _small_search()
    fresh_search.set_model(fresh)
    fresh_search.on_train_begin()
    state = restore_checkpoint(fresh, str(tmp_path), fresh.distribute_strategy)
    assert state["epoch"] == 3 and state["history"] == history.history
    assert fresh_emb.dims == emb.dims
    assert fresh_search.history == search.history and fresh_search.step == search.step
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert strategy.num_replicas_in_sync == 1
    # A finished run restarted with the same checkpoint trains no more.
    again = distributed_fit(fresh, data, epochs=3, callbacks=[fresh_search],
                            checkpoint_dir=str(tmp_path))
    assert again.history == history.history
    save_checkpoint(fresh, str(tmp_path), {"epoch": 4, "history": {}}, strategy, keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "epoch-00004"]


def test_distributed_fit_config_round_trip_and_checks():
    config = DistributedFitConfig(checkpoint_every=2, keep_checkpoints=3,
                                  verify_agreement=False, verbose=1)
    restored = DistributedFitConfig.from_config(json.loads(json.dumps(config.get_config())))
    assert restored == config
    with pytest.raises(ValueError, match="checkpoint_every"):
        DistributedFitConfig(checkpoint_every=0)
    with pytest.raises(ValueError, match="Unknown DistributedFitConfig keys"):
        DistributedFitConfig.from_config({"epochs": 3})
    model, _, _, data = _small_search()
    with pytest.raises(ValueError, match="epochs"):
        distributed_fit(model, data, epochs=0)


def test_local_cluster_gives_each_worker_its_tf_config(tmp_path):
    code = ("import json, os; t = json.loads(os.environ['TF_CONFIG']); "
            "print(t['task']['index'], len(t['cluster']['worker']))")
    with LocalCluster([sys.executable, "-c", code], 3, log_dir=str(tmp_path)) as cluster:
        assert cluster.wait(timeout=60) == [0, 0, 0]
    assert [(tmp_path / f"worker_{i}.log").read_text().split() for i in range(3)] == [
        ["0", "3"], ["1", "3"], ["2", "3"]]
    ports = free_ports(4)
    assert len(set(ports)) == 4
    config = json.loads(tf_config(["127.0.0.1:1", "127.0.0.1:2"], 1))
    assert config == {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
                      "task": {"type": "worker", "index": 1}}


def test_local_cluster_stops_the_others_when_one_fails(tmp_path):
    code = ("import json, os, sys, time; t = json.loads(os.environ['TF_CONFIG']); "
            "sys.exit(3) if t['task']['index'] == 1 else time.sleep(60)")
    start = time.monotonic()
    with LocalCluster([sys.executable, "-c", code], 2, log_dir=str(tmp_path)) as cluster:
        codes = cluster.wait(timeout=60)
    assert codes[1] == 3 and codes[0] is not None and codes[0] != 0
    assert time.monotonic() - start < 30


def test_launch_main_returns_the_first_failure(tmp_path, capsys):
    from dimgrow_tf.distribute.launch import main

    ok = "import os; assert 'TF_CONFIG' in os.environ"
    assert main(["--workers", "2", "--log-dir", str(tmp_path), "--", sys.executable, "-c", ok]) == 0
    fail = "import sys; sys.exit(5)"
    assert main(["--workers", "2", "--", sys.executable, "-c", fail]) == 5
    with pytest.raises(SystemExit):
        main(["--workers", "2"])
    assert "give the command" in capsys.readouterr().err
