import gzip
import json

import numpy as np
import pytest

from dimgrow_tf.data.criteo import CRITEO_FIELDS
from dimgrow_tf.data.criteo import CriteoLoader
from dimgrow_tf.data.loader_utils import MalformedRowError
from dimgrow_tf.data.loader_utils import log_squared
from dimgrow_tf.data.vocabulary import Vocabulary
from dimgrow_tf.field_config import FieldConfig


def criteo_line(label="0", ints=None, cats=None):
    ints = list(ints or []) + [""] * (13 - len(ints or []))
    cats = list(cats or []) + [""] * (26 - len(cats or []))
    return "\t".join([label] + ints + cats)


CRITEO_ROWS = [
    criteo_line("1", ["", "-2", "7"], ["68fd1e64", "", "zz"]),
    criteo_line("0", ["3", "100", "0"], ["80e26c9b", "a", "zz"]),
    criteo_line("0", ["1", "2", "7"], ["68fd1e64", "b", ""]),
]


def test_vocabulary_layout_sorting_and_min_count():
    vocab = Vocabulary.fit(
        {"n": ["10", "9", None, "9", "-1"], "s": ["b", "a", "b", "c", None]},
        kinds={"n": "int"},
    )
    assert vocab.values("n") == ["-1", "9", "10"]
    assert [vocab.lookup("n", v) for v in ("-1", "9", "10", None, "11")] == [
        2, 3, 4, 1, 0]
    assert vocab.values("s") == ["a", "b", "c"]
    assert [(f.name, f.vocab_size, f.dim) for f in vocab.fields()] == [
        ("n", 5, 1), ("s", 5, 1)]
    rare = Vocabulary.fit({"s": ["b", "a", "b", "c", None]}, min_count=2)
    features, oov = rare.encode({"s": ["b", "a", "c", None, "zz"]})
    np.testing.assert_array_equal(features["s"], [2, 0, 0, 1, 0])
    assert features["s"].dtype == np.int32 and oov == {"s": 3}


def test_missing_tokens_map_to_the_missing_id_everywhere(tmp_path):
    from dimgrow_tf.data.csv_loader import CsvLoader
    from dimgrow_tf.data.csv_schema import CsvSchema

    vocab = Vocabulary.fit({"s": ["a", "NA", "", "b", None]}, missing=("NA", ""))
    assert vocab.values("s") == ["a", "b"]
    assert [vocab.lookup("s", v) for v in ("a", "NA", "", None, "zz")] == [2, 1, 1, 1, 0]
    features, oov = vocab.encode({"s": ["NA", "b", "", "q"]})
    assert features["s"].tolist() == [1, 3, 1, 0] and oov == {"s": 1}
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").missing == ("NA", "")
    assert Vocabulary.fit({"s": ["", "a"]}).lookup("s", "") == 1   # default: "" missing
    with pytest.raises(ValueError, match="'NA' is also a missing token"):
        Vocabulary({"s": ["NA"]}, missing=("NA",))
    schema = CsvSchema(label="y", categorical=("s",), missing=("-",))
    loader = CsvLoader(schema)
    table = loader.read_text("y,s\n1,a\n0,-\n1,\n")
    fitted = loader.fit_vocabulary(table)
    assert fitted.missing == ("-",) and fitted.values("s") == ["", "a"]
    assert fitted.encode(table.columns)[0]["s"].tolist() == [3, 1, 2]


def test_vocabulary_records_discretised_fields(tmp_path):
    vocab = Vocabulary({"n": ["1", "21"], "s": ["a"]}, kinds={"n": "int"}, discretise=("n",))
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").discretise == ("n",)
    with pytest.raises(ValueError, match=r"not 'int' fields: \['s'\]"):
        Vocabulary({"s": ["a"]}, discretise=("s",))
    loader = CriteoLoader()
    table = loader.read_text("\n".join(CRITEO_ROWS) + "\n")
    assert loader.fit_vocabulary(table).discretise == tuple(f"I{i}" for i in range(1, 14))
    plain = CriteoLoader(discretise=False)
    assert plain.fit_vocabulary(plain.read_text("\n".join(CRITEO_ROWS) + "\n")).discretise == ()


def test_vocabulary_json_round_trip(tmp_path):
    vocab = Vocabulary.fit({"n": ["3", "1"], "s": ["é", "x\ty"]},
                           kinds={"n": "int"}, min_count=1)
    vocab.save(tmp_path / "v.json")
    restored = Vocabulary.load(tmp_path / "v.json")
    assert restored == vocab
    assert restored.kinds == {"n": "int", "s": "str"}
    assert json.loads((tmp_path / "v.json").read_text())["layout"] == {
        "oov": 0, "missing": 1, "first_value": 2}


@pytest.mark.parametrize(
    "values, kinds, message",
    [
        ({"a": ["x", "x"]}, None, "duplicate values"),
        ({"a": ["007"]}, {"a": "int"}, "not a canonical integer"),
        ({"a": ["-0"]}, {"a": "int"}, "not a canonical integer"),
        ({"a": [3]}, None, "must be strings"),
        ({"a b": ["x"]}, None, "characters"),
        ({"a": ["x"]}, {"a": "float"}, "kind must be one of"),
    ],
)
def test_vocabulary_rejects_bad_tables(values, kinds, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary(values, kinds)


def test_vocabulary_rejects_foreign_json(tmp_path):
    (tmp_path / "v.json").write_text('{"fields": []}')
    with pytest.raises(ValueError, match="Not a dimgrow_tf.Vocabulary"):
        Vocabulary.load(tmp_path / "v.json")


def test_log_squared_matches_the_recipe():
    assert [log_squared(v) for v in (-2, -1, 0, 1, 2, 3, 100, 2**63 - 1)] == [
        -2, -1, 0, 1, 2, 1, 21, 1906]


def test_criteo_exact_labels_values_and_ids(tmp_path):
    (tmp_path / "c.txt").write_text("\n".join(CRITEO_ROWS) + "\n")
    loader = CriteoLoader()
    table = loader.read(tmp_path / "c.txt")
    np.testing.assert_array_equal(table.labels, [1.0, 0.0, 0.0])
    assert list(table.columns["I1"]) == [None, "1", "1"]
    assert list(table.columns["I2"]) == ["-2", "21", "2"]
    assert list(table.columns["C2"]) == [None, "a", "b"]
    assert table.stats.missing["I1"] == 1 and table.stats.missing["C13"] == 3
    vocab = loader.fit_vocabulary(table)
    features, labels = table.encode(vocab)
    np.testing.assert_array_equal(features["I1"], [1, 2, 2])
    np.testing.assert_array_equal(features["I2"], [2, 4, 3])
    np.testing.assert_array_equal(features["I3"], [3, 2, 3])
    np.testing.assert_array_equal(features["C1"], [2, 3, 2])
    np.testing.assert_array_equal(features["C3"], [2, 2, 1])
    assert list(features) == list(CRITEO_FIELDS) and len(features) == 39
    assert vocab.vocab_size("C13") == 2 and labels.dtype == np.float32


def test_criteo_gzip_crlf_and_missing_final_newline_read_alike(tmp_path):
    plain = tmp_path / "c.txt"
    plain.write_text("\n".join(CRITEO_ROWS) + "\n")
    packed = tmp_path / "c.gz"
    with gzip.open(packed, "wb") as fh:
        fh.write(("\r\n".join(CRITEO_ROWS)).encode())
    a, b = CriteoLoader().read(plain), CriteoLoader().read(packed)
    for name in CRITEO_FIELDS:
        assert list(a.columns[name]) == list(b.columns[name])
    np.testing.assert_array_equal(a.labels, b.labels)


@pytest.mark.parametrize(
    "row, pattern",
    [
        (criteo_line("1")[:-1], r"line 2: expected 40 tab-separated columns, found 39"),
        (criteo_line("1") + "\tx", r"line 2: expected 40 .* found 41"),
        (criteo_line("2"), r"line 2, field 'label': label must be 0 or 1 \(value '2'\)"),
        (criteo_line(""), r"line 2, field 'label'"),
        (criteo_line("1", ["", "4x"]), r"line 2, field 'I2': not an integer \(value '4x'\)"),
        (criteo_line("1", ["1.0"]), r"line 2, field 'I1': not an integer"),
        (criteo_line("1", ["1_000"]), r"line 2, field 'I1': not an integer"),
        (criteo_line("1", [" 5"]), r"line 2, field 'I1': not an integer"),
        (criteo_line("1", ["\u0663"]), r"line 2, field 'I1': not an integer"),
        (criteo_line("1", ["9" * 19]), r"line 2, field 'I1': integer outside the int64 range"),
        (criteo_line("1", ["9" * 5000]), r"line 2, field 'I1': integer outside the int64 range"),
    ],
    ids=["39_columns", "41_columns", "label_2", "label_empty", "int_4x",
         "int_float", "int_underscore", "int_space", "int_arabic_digit",
         "int_19_nines", "int_5000_digits"],
)
def test_criteo_malformed_row_names_file_line_and_field(tmp_path, row, pattern):
    path = tmp_path / "bad.txt"
    path.write_text(CRITEO_ROWS[0] + "\n" + row + "\n")
    with pytest.raises(MalformedRowError, match=r"bad\.txt, " + pattern) as info:
        CriteoLoader().read(path)
    assert info.value.line == 2 and isinstance(info.value, ValueError)


def test_skip_mode_counts_reasons_and_keeps_good_rows(tmp_path):
    lines = [CRITEO_ROWS[0], criteo_line("7"), "", CRITEO_ROWS[1],
             criteo_line("1", ["x"]), "short", CRITEO_ROWS[2]]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    table = CriteoLoader(on_error="skip").read(path)
    stats = table.stats
    assert (stats.lines, stats.rows, stats.skipped, stats.blank_lines) == (7, 3, 3, 1)
    assert stats.skip_reasons == {"label": 1, "integer": 1, "columns": 1}
    assert [e.split(":")[0] for e in stats.errors] == [
        f"{path}, line 2, field 'label'", f"{path}, line 5, field 'I1'",
        f"{path}, line 6"]
    np.testing.assert_array_equal(table.line_numbers, [1, 4, 7])
    np.testing.assert_array_equal(table.labels, [1, 0, 0])
    assert "3 skipped" in stats.summary()


def test_invalid_utf8_is_a_malformed_row(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(CRITEO_ROWS[0].encode() + b"\n" + b"1\t\xff\xfe\n")
    with pytest.raises(MalformedRowError, match=r"line 2: bytes .* not valid utf-8"):
        CriteoLoader().read(path)
    stats = CriteoLoader(on_error="skip").read(path).stats
    assert stats.skip_reasons == {"encoding": 1} and stats.rows == 1


def test_unseen_values_at_evaluation_map_to_oov_and_are_counted(tmp_path):
    (tmp_path / "train.txt").write_text("\n".join(CRITEO_ROWS[:2]) + "\n")
    (tmp_path / "test.txt").write_text(
        criteo_line("1", ["3", "5"], ["new", "a"]) + "\n")
    loader = CriteoLoader()
    vocab = loader.fit_vocabulary(loader.read(tmp_path / "train.txt"))
    test = loader.read(tmp_path / "test.txt")
    features, _ = test.encode(vocab)
    assert features["I1"][0] == vocab.lookup("I1", "1") == 2
    assert features["I2"][0] == 0 and features["C1"][0] == 0
    assert features["C2"][0] == vocab.lookup("C2", "a") == 2
    assert features["C3"][0] == 1
    assert test.stats.oov["I2"] == 1 and test.stats.oov["C1"] == 1
    assert sum(test.stats.oov.values()) == 2


def test_missing_file_and_bad_policy_raise():
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        CriteoLoader().read("nope.txt")
    with pytest.raises(ValueError, match='"raise" or "skip"'):
        CriteoLoader(on_error="ignore")


def test_vocab_fields_feed_field_config():
    vocab = Vocabulary.fit({"a": ["x"]})
    assert vocab.fields(dim=2) == [FieldConfig("a", 3, dim=2)]


def test_truncated_gzip_raises_naming_file_and_line_even_when_skipping(tmp_path):
    data = gzip.compress(("\n".join(CRITEO_ROWS * 50) + "\n").encode())
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedRowError, match=r"cut\.gz, line \d+: corrupt or truncated gzip"):
        CriteoLoader(on_error="skip").read(path)
