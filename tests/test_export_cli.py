import argparse
import json

import keras
import numpy as np
import pytest

import dimgrow_tf as dg
from dimgrow_tf.export import export_cli

FIELDS = [dg.FieldConfig("user", 9, dim=2), dg.FieldConfig("noise", 5, dim=0),
          dg.FieldConfig("item", 6, dim=3)]
WORDS = ["ann", "bob", "cy", "dee", "eve", "fay", "gus"]   # ids 2..8 of `user`


def _cli(*argv):
    parser = argparse.ArgumentParser(prog="dimgrow")
    export_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return export_cli.run(parser.parse_args(["export", *argv]))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    keras.utils.set_random_seed(2)
    model, emb = dg.build_search_model(FIELDS, output_dim=8, seed=0)
    rng = np.random.default_rng(0)
    x = {f.name: rng.integers(0, f.vocab_size, 128).astype("int32") for f in FIELDS}
    model.fit(x, rng.integers(0, 2, 128).astype("float32"), epochs=1, verbose=0)
    for f in ("user", "item"):
        table = emb.field_variables(f)["embeddings"]
        table.assign(rng.normal(0, 1, table.shape).astype("float32"))
    root = tmp_path_factory.mktemp("cli")
    path = root / "search.keras"
    model.save(path)
    dg.Vocabulary({"user": WORDS}).save(root / "vocab.json")
    (root / "old_vocab.json").write_text(json.dumps({"user": WORDS}))
    return root, model


def _expected(model, user, item):
    x = {"user": np.array([user]), "noise": np.array([0]), "item": np.array([item])}
    return float(keras.ops.convert_to_numpy(model(x, training=False))[0, 0])


def test_export_command_writes_version_and_answers(saved, capsys):
    root, model = saved
    base = root / "exports"
    code = _cli(str(root / "search.keras"), "--export-base", str(base), "--name", "ctr",
                "--vocab", str(root / "vocab.json"), "--row", '{"user": "dee", "item": 4}')
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert out[0].startswith(f"Exported searched model to {base}/ctr/1 (user=2, item=3;")
    assert "dropped: noise" in out[0] and out[1].startswith("Widths: current")
    answer = json.loads(out[2])
    assert answer["request"] == {"user": "dee", "item": 4}
    assert abs(answer["probability"] - _expected(model, 5, 4)) <= 1e-5
    # Unseen -> 0 (OOV), empty -> 1 (missing), null -> absent feature -> 1.
    for row, user, item in (({"user": "zed", "item": 4}, 0, 4),
                            ({"user": "", "item": 2}, 1, 2),
                            ({"user": "bob", "item": None}, 3, 1),
                            ({"user": "bob", "item": 99, "noise": 3}, 3, 0)):
        code = _cli(str(root / "search.keras"), "--export-base", str(base), "--name", "ctr",
                    "--vocab", str(root / "vocab.json"), "--no-warmup", "--row", json.dumps(row))
        answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert code == 0
        assert answer["probability"] == pytest.approx(_expected(model, user, item), abs=1e-5)
    code = _cli(str(root / "search.keras"), "--export-base", str(base), "--name", "ctr",
                "--vocab", str(root / "vocab.json"), "--predict", "--no-warmup")
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and "/ctr/6 " in out[0]
    answer = json.loads(out[2])
    assert answer["request"] == {"user": "ann", "item": 0}
    assert abs(answer["probability"] - _expected(model, 2, 0)) <= 1e-5
    assert not (base / "ctr" / "6" / "assets.extra" / "tf_serving_warmup_requests").exists()
    assert (base / "models.config").exists()


@pytest.mark.parametrize(
    "extra, message",
    [(["--row", "[1, 2]"], "one JSON object"),
     (["--row", "{1: 2"], "Expecting property name"),
     (["--predict", "--row", '{"user": 1, "item": 2}'], "takes string values"),
     (["--row", '{"user": "ann"}'], "missing ['item'], extra []"),
     (["--row", '{"user": "ann", "item": 1, "age": 3}'], "missing [], extra ['age']"),
     (["--version", "1"], "never overwritten"),
     (["--vocab", "missing.json"], "No such file"),
     (["--vocab", "OLD"], "Not a dimgrow_tf.Vocabulary/1 vocabulary"),
     (["--result", "missing_result.json"], "No such file")],
)
def test_export_command_errors_exit_2_and_write_nothing(saved, capsys, extra, message):
    root, _ = saved
    base = root / "errors"
    extra = [str(root / "old_vocab.json") if a == "OLD" else a for a in extra]
    args = [str(root / "search.keras"), "--export-base", str(base),
            "--vocab", str(root / "vocab.json")]
    if "--version" in extra:
        assert _cli(*args) == 0
    before = sorted(p.name for p in base.rglob("*")) if base.exists() else None
    code = _cli(*(args + extra))
    assert code == 2
    assert message in capsys.readouterr().err
    after = sorted(p.name for p in base.rglob("*")) if base.exists() else None
    assert after == before


def test_export_command_rejects_missing_model(tmp_path, capsys):
    assert _cli(str(tmp_path / "nope.keras")) == 2
    assert "is not a file" in capsys.readouterr().err
