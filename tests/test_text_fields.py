"""Text fields: keras-hub tokenizers in the graph, ids in the loader layout,
searched as multi-valent fields and served from raw strings."""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
from conftest import ScriptedGates
from dimgrow_tf.export import export_saved_model

needs_hub = pytest.mark.skipif(
    importlib.util.find_spec("keras_hub") is None,
    reason="keras-hub is not installed (the `text` extra, Keras >= 3.15)")
PAD = dg.field_config.PAD_ID
TITLES = ["Toy Story (1995)", "GoldenEye (1995)", "Four Rooms (1995)",
          "Get Shorty (1995)", "Copycat (1995)", "Twelve Monkeys (1995)", "Babe (1995)",
          "Toy Soldiers (1991)", "Story of Us, The (1999)"] * 12


def _tokenizer(**kwargs):
    from dimgrow_tf.layers.text_tokenizer import TextTokenizer

    return TextTokenizer(**kwargs) if kwargs else TextTokenizer.fit(TITLES, 400)


def _ids(tokenizer, texts):
    return keras.ops.convert_to_numpy(tokenizer(tf.constant(texts)))


@needs_hub
def test_word_pieces_follow_the_loader_layout():
    tok = _tokenizer()
    vocab = tok.vocabulary
    assert vocab[:2] == ["[UNK]", "[MISSING]"] and tok.vocab_size == len(vocab)
    toy, story = vocab.index("toy"), vocab.index("story")
    ids = _ids(tok, ["Toy STORY", "", "zzqx"])
    assert ids.shape == (3, 2)
    assert ids[0].tolist() == [toy, story]
    assert ids[1].tolist() == [1, PAD], "an empty text is missing"
    assert ids[2, 0] == 0, "an unknown word piece is OOV"
    field = tok.field("title", dim=2)
    assert (field.vocab_size, field.dim, field.combiner) == (tok.vocab_size, 2, "mean")
    with pytest.raises(ValueError, match=r"must start with \['\[UNK\]', '\[MISSING\]'\]"):
        _tokenizer(vocabulary=["a", "b", "c"])


@needs_hub
def test_bytes_follow_the_layout_and_lowercase_with_core_ops():
    tok = _tokenizer(max_len=3)
    assert tok.kind == "byte" and tok.vocab_size == 258
    ids = _ids(tok, ["Ab", "abcd", "", "É"])
    assert ids.tolist() == [[99, 100, PAD], [99, 100, 101], [1, PAD, PAD],
                            [0xC3 + 2, 0xA9 + 2, PAD]]


@needs_hub
def test_graph_and_eager_agree_and_the_config_round_trips():
    from dimgrow_tf.layers.text_tokenizer import TextTokenizer

    tok = _tokenizer()
    eager = _ids(tok, TITLES[:9])
    ds = tf.data.Dataset.from_tensor_slices(TITLES[:9]).batch(9).map(tok)
    np.testing.assert_array_equal(next(iter(ds)).numpy(), eager)
    again = TextTokenizer.from_config(json.loads(json.dumps(tok.get_config())))
    np.testing.assert_array_equal(_ids(again, TITLES[:9]), eager)


@needs_hub
def test_text_field_search_resizes_in_place_once_traced():
    tok = _tokenizer()
    fields = [dg.FieldConfig("a", 5), tok.field("title")]
    model, emb = dg.build_search_model(fields, output_dim=4, seed=0)
    x = {"a": np.arange(27) % 5, "title": _ids(tok, TITLES[:27])}
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.99, low=0.01, check_every=1,
                                                     max_dim=4, monitor="loss"))
    model.fit(x, np.arange(27) % 2, batch_size=9, epochs=1, verbose=0,
              callbacks=[ScriptedGates(emb, {1: {"title": [5.0]}, 2: {"title": [5.0]}}),
                         search])
    assert emb.dims["title"] == 3 and emb.trace_counts["train"] == 1


SERVE = r"""
import json, sys
import numpy as np, tensorflow as tf
if sys.argv[2] == "with_text_ops":
    import tensorflow_text  # noqa: F401  (registers its ops, as a model server must)
try:
    loaded = tf.saved_model.load(sys.argv[1])
except Exception as err:
    print(json.dumps({"error": str(err)[:400]})); sys.exit(0)
titles = tf.constant(json.loads(sys.argv[3]))
a = tf.constant(np.arange(titles.shape[0]) % 5, tf.int64)
served = loaded.signatures["serving_default"](a=a, title=titles)["probability"]
example = tf.train.Example(features=tf.train.Features(feature={
    "a": tf.train.Feature(int64_list=tf.train.Int64List(value=[0]))}))
absent = loaded.signatures["examples"](examples=tf.constant([example.SerializeToString()]))
print(json.dumps({"served": served.numpy().tolist(),
                  "absent": absent["probability"].numpy().tolist()}))
"""


def _serve(path, mode, texts):
    proc = subprocess.run(
        [sys.executable, "-c", SERVE, path, mode, json.dumps(texts)],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_hub
@pytest.mark.parametrize("kind", ["wordpiece", "byte"])
def test_served_raw_text_equals_eager_in_a_fresh_process(tmp_path, kind):
    tok = _tokenizer() if kind == "wordpiece" else _tokenizer(max_len=12)
    fields = [dg.FieldConfig("a", 5, dim=2), tok.field("title", dim=3, combiner="sqrtn")]
    model, emb = dg.build_search_model(fields, output_dim=4, seed=0)
    x = {"a": np.arange(27) % 5, "title": _ids(tok, TITLES[:27])}
    model.fit(x, np.arange(27) % 2, batch_size=9, epochs=1, verbose=0)
    rng = np.random.default_rng(0)
    for f in fields:
        for name, v in emb.field_variables(f.name).items():
            if name != "moving_mean":
                v.assign(rng.normal(0, 1, v.shape).astype("float32"))
    path = export_saved_model(model, str(tmp_path), tokenizers={"title": tok})
    meta = json.loads(open(os.path.join(path, "assets.extra", "dimgrow_export.json")).read())
    texts = TITLES[:8] + ["", "never seen words"]
    ids = {"a": np.arange(10) % 5, "title": _ids(tok, texts)}
    eager = keras.ops.convert_to_numpy(model(ids, training=False)).reshape(-1)
    assert np.ptp(eager) > 0.05
    missing = {"a": np.array([0]), "title": np.array([[1]])}
    eager_absent = keras.ops.convert_to_numpy(model(missing, training=False)).reshape(-1)
    if kind == "wordpiece":
        assert meta["custom_ops"] == ["CaseFoldUTF8", "FastWordpieceTokenizeWithOffsets",
                                      "RegexSplitWithOffsets"]
        refused = _serve(path, "core_only", texts)
        assert "FastWordpieceTokenizeWithOffsets" in refused["error"] or \
            "CaseFoldUTF8" in refused["error"] or "RegexSplit" in refused["error"]
        answer = _serve(path, "with_text_ops", texts)
    else:
        assert meta["custom_ops"] == []
        answer = _serve(path, "core_only", texts)
    np.testing.assert_allclose(answer["served"], eager, atol=1e-5)
    np.testing.assert_allclose(answer["absent"], eager_absent, atol=1e-5)
    title = [f for f in meta["fields"] if f["name"] == "title"][0]
    assert (title["kind"], title["dtype"], title["tokenizer"]["kind"]) == ("text", "string", kind)


@needs_hub
def test_export_checks_the_tokenizer_against_the_model(tmp_path):
    tok = _tokenizer(max_len=4)
    model, _ = dg.build_search_model([dg.FieldConfig("title", 300, combiner="mean")],
                                     output_dim=4)
    with pytest.raises(ValueError, match="'title': the tokenizer gives 258 ids.*300"):
        export_saved_model(model, str(tmp_path), tokenizers={"title": tok}, warmup=False)
    with pytest.raises(ValueError, match="'body' that the model lacks"):
        export_saved_model(model, str(tmp_path), tokenizers={"body": tok}, warmup=False)
    assert not os.listdir(tmp_path)


def test_without_keras_hub_the_error_names_the_extra(monkeypatch):
    from dimgrow_tf.layers.text_tokenizer import TextTokenizer

    monkeypatch.setitem(sys.modules, "keras_hub", None)
    with pytest.raises(ImportError, match=r"dimgrow-tf\[text\]"):
        TextTokenizer()


@needs_hub
def test_a_batch_of_only_empty_texts_is_missing():
    for tok in (_tokenizer(), _tokenizer(max_len=3)):
        assert _ids(tok, ["", ""]).tolist() == [[1], [1]]
        ds = tf.data.Dataset.from_tensor_slices(["", ""]).batch(2).map(tok)
        assert next(iter(ds)).numpy().tolist() == [[1], [1]]


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
ML_SPLITS = os.path.join(SHARED, "splits", "movielens_100k")
ML_RAW = os.path.join(SHARED, "movielens_100k")


@needs_hub
@pytest.mark.skipif(not (os.path.isdir(ML_SPLITS) and os.path.isdir(ML_RAW)),
                    reason="../shared/data (MovieLens-100K) is not available")
def test_movielens_splits_gain_genres_and_titles_of_u_item():
    from dimgrow_tf.data.datasets import load_split_dir
    from dimgrow_tf.data.movielens_utils import add_item_lists

    fields, splits = load_split_dir(ML_SPLITS)
    fields, splits, tok = add_item_lists(fields, splits, ML_RAW)
    assert [(f.name, f.vocab_size, f.combiner) for f in fields[-2:]] == [
        ("genres", 21, "mean"), ("title", tok.vocab_size, "mean")]
    for split in ("train", "valid", "test"):
        x = splits[split][0]
        assert x["genres"].shape == (len(x["item_id"]), 6)
        assert len(x["title"]) == len(x["item_id"])
    x = splits["train"][0]
    toy_story = np.flatnonzero(x["item_id"] == 0)[0]   # split id 0 = item 1
    # Animation, Children's, Comedy: GENRES positions 3, 4, 5 -> ids 5, 6, 7.
    assert x["genres"][toy_story].tolist() == [5, 6, 7, PAD, PAD, PAD]
    toy, story = tok.vocabulary.index("toy"), tok.vocabulary.index("story")
    assert x["title"][toy_story][:3].tolist() == [toy, story, PAD]
    unknown = np.flatnonzero(x["item_id"] == 266)     # item 267, "unknown"
    if unknown.size:
        assert x["genres"][unknown[0]][0] == 2          # the `unknown` genre
