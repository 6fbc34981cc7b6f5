"""List and text columns of a CSV schema: configs, parsing, the Vocabulary's
`"list"` and `"text"` kinds, and their errors."""

import importlib.util
import json
import sys

import pytest

import dimgrow_tf as dg
from conftest import config_round_trip
from dimgrow_tf.data.csv_loader import CsvLoader
from dimgrow_tf.data.csv_schema import CsvSchema
from dimgrow_tf.data.list_column import ListColumn
from dimgrow_tf.data.load_dataset import load_arrays
from dimgrow_tf.data.text_column import TextColumn

needs_hub = pytest.mark.skipif(
    importlib.util.find_spec("keras_hub") is None,
    reason="keras-hub is not installed (the `text` extra, Keras >= 3.15)")
PAD = dg.field_config.PAD_ID
CSV = ("y,u,g,t\n"
       "1,a,x|y|z,Hello\n"
       "0,,,\n"
       "1,b,x||w,\"a,b\"\n"
       "0,a,q|x,NA\n")
BYTES = {"vocabulary": None, "lowercase": True, "max_len": 4}


def _schema(text="bytes"):
    return CsvSchema(label="y", categorical=("u",), missing=("", "NA"), multivalent=(
        ListColumn("g", separator="|", combiner="sum", max_len=2),
        {"name": "t", "kind": "text", "tokenizer": text, "vocabulary_size": 40}))


def test_column_configs_round_trip():
    for column in (ListColumn("g", ";", "sqrtn", 4), TextColumn("t", "bytes", 10, "sum", 3)):
        assert config_round_trip(column) == column
    schema = _schema()
    restored = config_round_trip(schema)
    assert restored == schema and restored.kinds == {"u": "str", "g": "list", "t": "text"}
    assert schema.field_names == ("u", "g", "t")
    assert schema.get_config()["multivalent"][1]["kind"] == "text"


@pytest.mark.parametrize("column, message", [
    ({"name": "g", "kind": "bag"}, r"Column 'g': `kind` must be one of \('list', 'text'\)"),
    ({"name": "g"}, r"Column 'g': `kind` must be one of"),
    ("g", r"must be an object like"),
    ({"name": "g", "kind": "list", "sep": ","}, r"Column 'g': unknown keys \['sep'\]"),
    ({"name": "g", "kind": "list", "separator": ""}, "`separator` must be a non-empty"),
    ({"name": "g", "kind": "list", "combiner": "max"}, r"`combiner` must be one of"),
    ({"name": "g", "kind": "list", "max_len": 0}, r"`max_len` must be an integer >= 1"),
    ({"name": "t", "kind": "text", "tokenizer": "bpe"}, r"`tokenizer` must be one of"),
    ({"name": "t", "kind": "text", "vocabulary_size": 2}, r"`vocabulary_size` must be"),
    ({"name": "u", "kind": "list"}, r"Columns used twice in the schema: \['u'\]"),
])
def test_bad_columns_name_the_column(column, message):
    with pytest.raises(ValueError, match=message):
        CsvSchema(label="y", categorical=("u",), multivalent=(column,))


def test_list_cells_split_and_encode_by_the_rule():
    loader = CsvLoader(CsvSchema(label="y", categorical=("u",), missing=("", "NA"),
                                 multivalent=(ListColumn("g", max_len=2),)))
    table = loader.read_text("y,u,g\n1,a,x|y|z\n0,,\n1,b,x||w\n0,a,q|NA\n")
    assert table.columns["g"].tolist() == [("x", "y", "z"), None, ("x", "", "w"),
                                           ("q", "NA")]
    vocab = loader.fit_vocabulary(table.take([0, 1, 2]))
    assert vocab.kinds == {"u": "str", "g": "list"} and vocab.values("g") == ["w", "x", "y", "z"]
    fields = loader.field_configs(vocab)
    assert [(f.name, f.vocab_size, f.combiner, f.max_len) for f in fields] == [
        ("u", 4, None, None), ("g", 6, "mean", 2)]
    ids, _ = table.encode(vocab, fields)
    assert ids["g"].tolist() == [[3, 4], [1, PAD], [3, 2], [0, PAD]]
    assert table.stats.oov["g"] == 1 and table.stats.notes == {"g:cut": 1}
    assert table.stats.missing["g"] == 1


def test_vocabulary_with_list_and_text_kinds_round_trips(tmp_path):
    vocab = dg.Vocabulary({"u": ["a"], "g": ["x", "y"], "t": BYTES,
                           "w": {"vocabulary": ["[UNK]", "[MISSING]", "ab", "##c"],
                                 "lowercase": False, "max_len": None}},
                          kinds={"g": "list", "t": "text", "w": "text"})
    assert [vocab.vocab_size(n) for n in "ugtw"] == [3, 4, 258, 4]
    assert vocab.values("w") == ["ab", "##c"] and vocab.text_fields == ["t", "w"]
    assert [(f.combiner, f.max_len) for f in vocab.fields(combiners={"g": ("sum", 3)})] == [
        (None, None), ("sum", 3), ("mean", None), ("mean", None)]
    vocab.save(tmp_path / "v.json")
    again = dg.Vocabulary.load(tmp_path / "v.json")
    assert again == vocab and again.kinds == vocab.kinds
    entry = json.loads((tmp_path / "v.json").read_text())["fields"][2]
    assert entry == {"name": "t", "kind": "text", "tokenizer": BYTES}
    with pytest.raises(ValueError, match="Field 't' has kind 'text': its entry must be"):
        dg.Vocabulary({"t": ["a"]}, kinds={"t": "text"})
    with pytest.raises(ValueError, match="Field 't' has kind 'text': fit its tokenizer"):
        dg.Vocabulary.fit({"t": ["a"]}, kinds={"t": "text"})


def test_encode_errors_name_the_field_and_row():
    vocab = dg.Vocabulary({"u": ["a"], "g": ["x"]}, kinds={"g": "list"})
    good = {"u": ["a", None], "g": [("x",), None]}
    assert vocab.encode(good)[0]["g"].tolist() == [[2], [1]]
    cases = [
        ({"u": ["a", ["a", "b"]], "g": [("x",), None]},
         r"Field 'u', row 1: the field takes one string value per row; received a list"),
        ({"u": ["a", 7], "g": [("x",), None]}, r"Field 'u', row 1: .* received a int \(7\)"),
        ({"u": ["a", "a"], "g": [("x",), "x"]},
         r"Field 'g', row 1: the field takes a list of values per row \(kind 'list'\); "
         r"received a str"),
        ({"u": ["a"], "g": [("x", 3)]},
         r"Field 'g', row 0: list values must be strings; received 3"),
    ]
    for columns, message in cases:
        with pytest.raises(ValueError, match=message):
            vocab.encode(columns)


@needs_hub
def test_text_cells_tokenize_with_the_vocabulary_tokenizer():
    loader = CsvLoader(_schema("bytes"))
    table = loader.read_text(CSV)
    vocab = loader.fit_vocabulary(table)
    assert vocab.get_config()["fields"][2]["tokenizer"] == {
        "vocabulary": None, "lowercase": True, "max_len": None}
    ids, _ = table.encode(vocab, loader.field_configs(vocab))
    h, e, l_, o = (ord(c) + 2 for c in "helo")
    assert ids["t"].tolist() == [[h, e, l_, l_, o], [1, PAD, PAD, PAD, PAD],
                                 [ord("a") + 2, ord(",") + 2, ord("b") + 2, PAD, PAD],
                                 [1, PAD, PAD, PAD, PAD]], "NA is a missing token"
    with pytest.raises(ValueError, match=r"Field 't', row 0: a text field takes one string"):
        vocab.encode({"u": ["a"], "g": [("x",)], "t": [["a"]]})


@needs_hub
def test_wordpiece_vocabulary_is_fitted_on_the_training_split(tmp_path):
    rows = ["y,u,g,t"] + [f"{i % 2},u{i % 3},x|y,Toy Story {i % 4}" for i in range(30)]
    rows += ["1,u9,zz,Unseen Words"]
    (tmp_path / "all.csv").write_text("\n".join(rows) + "\n")
    spec = {"format": "csv", "train": str(tmp_path / "all.csv"), "split": [0.9, 0.95],
            "seed": 0, "schema": _schema("wordpiece").get_config()}
    data = load_arrays(spec)
    tokenizer = data.vocabulary.tokenizer("t")
    assert tokenizer.kind == "wordpiece" and {"toy", "story"} <= set(tokenizer.vocabulary)
    title = [f for f in data.fields if f.name == "t"][0]
    assert (title.vocab_size, title.combiner) == (len(tokenizer.vocabulary), "mean")
    n = sum(len(split[1]) for split in data.splits.values())
    assert n == 31 and data.splits["train"][0]["g"].shape[1] == 2


def test_text_column_without_keras_hub_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    loader = CsvLoader(_schema())
    table = loader.read_text(CSV)
    with pytest.raises(ImportError, match=r"dimgrow-tf\[text\]"):
        loader.fit_vocabulary(table)
    vocab = dg.Vocabulary({"t": BYTES}, kinds={"t": "text"})
    with pytest.raises(ImportError, match=r"dimgrow-tf\[text\]"):
        vocab.encode({"t": ["a"]})
    assert vocab.vocab_size("t") == 258
