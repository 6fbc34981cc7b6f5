import numpy as np
import pytest

from dimgrow_tf.data.csv_loader import CsvLoader
from dimgrow_tf.data.csv_schema import CsvSchema
from dimgrow_tf.data.frappe import FRAPPE_FIELDS
from dimgrow_tf.data.frappe import FrappeLoader
from dimgrow_tf.data.loader_utils import MalformedRowError
from dimgrow_tf.data.movielens import MOVIELENS_FIELDS
from dimgrow_tf.data.movielens import MovieLensLoader
from dimgrow_tf.data.movielens_utils import GENRES

FRAPPE = (
    "1 266:1 1244:1 5042:1 5049:1 5054:1 5055:1 5058:1 5062:1 5074:1 5149:1\r\n"
    "-1 138:1 1296:1 5041:1 5052:1 5053:1 5055:1 5058:1 5061:1 5085:1 5201:1\r\n"
    "0\t9:1.0  1244:+1 5042:1 5049:1 5054:1 5055:1 5058:1 5062:1 5074:1 5149:1 \n"
)


def test_frappe_labels_fields_by_position_and_ids():
    table = FrappeLoader().read_text(FRAPPE, source="f.libfm")
    np.testing.assert_array_equal(table.labels, [1, 0, 0])
    assert list(table.columns) == list(FRAPPE_FIELDS)
    assert list(table.columns["user"]) == ["266", "138", "9"]
    assert list(table.columns["city"]) == ["5149", "5201", "5149"]
    features, _ = table.encode(FrappeLoader().fit_vocabulary(table))
    np.testing.assert_array_equal(features["user"], [4, 3, 2])
    np.testing.assert_array_equal(features["item"], [2, 3, 2])


@pytest.mark.parametrize(
    "line, pattern",
    [
        ("2 " + " ".join(["1:1"] * 10), r"field 'label': label must be 1, \+1, 0 or -1 \(value '2'\)"),
        ("1 " + " ".join(["1:1"] * 9), r"expected a label and 10 index:value tokens \(11 in all\), found 10"),
        ("1 " + " ".join(["1:1"] * 11), r"expected .* found 12"),
        ("1 " + " ".join(["1:1"] * 9 + ["7:0.5"]), r"field 'city': feature value must be 1 \(one-hot\) \(value '7:0.5'\)"),
        ("1 x:1 " + " ".join(["1:1"] * 9), r"field 'user': index must be a non-negative integer \(value 'x:1'\)"),
        ("1 -3:1 " + " ".join(["1:1"] * 9), r"field 'user': index must be"),
        ("1 7 " + " ".join(["1:1"] * 9), r"field 'user': expected index:value \(value '7'\)"),
        ("1 " + "9" * 20 + ":1 " + " ".join(["1:1"] * 9), r"field 'user': integer outside the int64 range"),
    ],
    ids=["label", "9_tokens", "11_tokens", "value", "index_text", "index_negative",
         "no_colon", "index_huge"],
)
def test_frappe_malformed_rows(line, pattern):
    with pytest.raises(MalformedRowError, match=r"f\.libfm, line 2(, |: )" + pattern):
        FrappeLoader().read_text(FRAPPE.splitlines()[0] + "\n" + line,
                                 source="f.libfm")
    stats = FrappeLoader(on_error="skip").read_text(
        FRAPPE.splitlines()[0] + "\n" + line).stats
    assert (stats.rows, stats.skipped) == (1, 1)


def _item(item_id, date, flags):
    cells = [str(item_id), f"Movie {item_id}", date, "", "http://x"]
    return "|".join(cells + [str(f) for f in flags])


def _genres(*names):
    return [int(g in names) for g in GENRES]


def write_movielens(folder, data, users=None, items=None):
    folder.mkdir(exist_ok=True)
    users = users or ["1|24|M|technician|85711", "2|53|F|other|T8H1N"]
    items = items or [_item(10, "01-Jan-1995", _genres("Comedy", "Action")),
                      _item(20, "", _genres("unknown"))]
    (folder / "u.data").write_text("\n".join(data) + "\n")
    (folder / "u.user").write_text("\n".join(users) + "\n")
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    return folder


def test_movielens_joins_side_tables_and_labels(tmp_path):
    folder = write_movielens(tmp_path / "ml", [
        "1\t10\t4\t881250949", "2\t20\t3\t891717742", "3\t10\t5\t1", "2\t99\t1\t2"])
    table = MovieLensLoader().read(folder)
    np.testing.assert_array_equal(table.labels, [1, 0, 1, 0])
    rows = [[table.columns[n][i] for n in MOVIELENS_FIELDS] for i in range(4)]
    assert rows == [
        ["1", "10", "24", "M", "technician", "85711", "Action", "1995"],
        ["2", "20", "53", "F", "other", "T8H1N", "unknown", None],
        ["3", "10", None, None, None, None, "Action", "1995"],
        ["2", "99", "53", "F", "other", "T8H1N", None, None],
    ]
    assert table.stats.notes == {"user_not_in_u.user": 1, "item_not_in_u.item": 1}
    assert table.stats.missing["year"] == 2
    features, _ = table.encode(MovieLensLoader().fit_vocabulary(table))
    np.testing.assert_array_equal(features["item_id"], [2, 3, 2, 4])
    np.testing.assert_array_equal(features["year"], [2, 1, 2, 1])
    threshold5 = MovieLensLoader(threshold=5).read(folder / "u.data")
    np.testing.assert_array_equal(threshold5.labels, [0, 0, 1, 0])


@pytest.mark.parametrize(
    "data, users, items, pattern",
    [
        (["1\t10\t6\t1"], None, None, r"u\.data, line 1, field 'rating': rating must be an integer 1\.\.5 \(value '6'\)"),
        (["1\t10\t4.5\t1"], None, None, r"u\.data, line 1, field 'rating': not an integer"),
        (["1\t10\t4"], None, None, r"u\.data, line 1: expected 4 tab-separated columns"),
        (["u1\t10\t4\t1"], None, None, r"u\.data, line 1, field 'user_id': not an integer"),
        (["1\t10\t4\t1"], ["1|24|M|x|1", "1|30|F|y|2"], None, r"u\.user, line 2, field 'id': id already listed above \(value '1'\)"),
        (["1\t10\t4\t1"], ["1|24|M|x"], None, r"u\.user, line 1: expected 5 \|-separated columns"),
        (["1\t10\t4\t1"], None, [_item(10, "", [2] + [0] * 18)], r"u\.item, line 1, field 'genre:unknown': genre flag must be 0 or 1"),
    ],
    ids=["rating_6", "rating_float", "3_columns", "user_text", "user_duplicate",
         "user_4_columns", "item_flag"],
)
def test_movielens_malformed_rows(tmp_path, data, users, items, pattern):
    folder = write_movielens(tmp_path / "ml", data, users, items)
    with pytest.raises(MalformedRowError, match=pattern):
        MovieLensLoader().read(folder)


def test_movielens_skip_counts_side_and_rating_rows(tmp_path):
    folder = write_movielens(
        tmp_path / "ml", ["1\t10\t4\t1", "2\t10\t9\t1"],
        users=["1|24|M|x|1", "2|old|F|y|2"])
    table = MovieLensLoader(on_error="skip").read(folder)
    assert (table.stats.rows, table.stats.skipped) == (1, 1)
    assert table.stats.notes == {"side_rows_skipped": 1}
    assert any("u.user, line 2, field 'age'" in e for e in table.stats.errors)


SCHEMA = CsvSchema(label="click", categorical=("user", "ad"),
                   integer=("hour", "count"), discretise=("count",),
                   missing=("", "NA"), positive=("1", "yes"), negative=("0", "no"))


def test_csv_schema_orders_fields_and_parses_cells():
    text = ('ad,extra,click,user,count,hour\n'
            '"a,1",z,yes,u1,100,7\n'
            '\n'
            'NA,z,0,"u""2",NA,-3\n')
    table = CsvLoader(SCHEMA).read_text(text, source="t.csv")
    assert list(table.columns) == ["hour", "count", "user", "ad"]
    assert list(table.columns["ad"]) == ["a,1", None]
    assert list(table.columns["user"]) == ["u1", 'u"2']
    assert list(table.columns["count"]) == ["21", None]
    assert list(table.columns["hour"]) == ["7", "-3"]
    np.testing.assert_array_equal(table.labels, [1, 0])
    np.testing.assert_array_equal(table.line_numbers, [2, 4])
    assert table.stats.blank_lines == 1 and table.kinds["hour"] == "int"


def test_csv_without_header_uses_schema_columns():
    schema = CsvSchema(label="y", categorical=("a",), delimiter=";",
                       header=False, columns=("a", "y"))
    table = CsvLoader(schema).read_text("x;1\n;0\n")
    assert list(table.columns["a"]) == ["x", None]


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("click,user,ad,count\n", r"line 1: header lacks columns \['hour'\]"),
        ("click,user,ad,count,hour,hour\n", r"line 1: header repeats columns"),
        ("", r"line 1: no header line"),
        ("click,user,ad,count,hour\n1,u,a,3,4,5\n", r"line 2: expected 5 columns separated by ',', found 6"),
        ("click,user,ad,count,hour\nmaybe,u,a,3,4\n", r"line 2, field 'click': label must be one of"),
        ("click,user,ad,count,hour\n1,u,a,3.5,4\n", r"line 2, field 'count': not an integer \(value '3.5'\)"),
        ('click,user,ad,count,hour\n1,"u"x,a,3,4\n', r"line 2: bad CSV quoting"),
    ],
    ids=["header_lacks", "header_repeats", "empty", "6_cells", "label", "int", "quote"],
)
def test_csv_malformed_input(text, pattern):
    with pytest.raises(MalformedRowError, match=r"t\.csv, " + pattern):
        CsvLoader(SCHEMA).read_text(text, source="t.csv")


def test_csv_header_error_raises_even_when_skipping():
    with pytest.raises(MalformedRowError, match="header lacks"):
        CsvLoader(SCHEMA, on_error="skip").read_text("click,user\n1,u\n")


def test_csv_schema_round_trip_and_validation():
    assert CsvSchema.from_config(SCHEMA.get_config()) == SCHEMA
    assert CsvSchema(integer=("a", "b"), discretise=True).discretise == ("a", "b")
    for kwargs, message in [
        ({}, "at least one"),
        ({"categorical": "ab"}, "not one string"),
        ({"categorical": ("a",), "integer": ("a",)}, "used twice"),
        ({"categorical": ("a",), "discretise": ("a",)}, "non-integer"),
        ({"categorical": ("a",), "delimiter": '"'}, "delimiter"),
        ({"categorical": ("a",), "header": False}, "`columns` is required"),
        ({"categorical": ("a b",)}, "characters"),
        ({"categorical": ("a",), "positive": ("1",), "negative": ("1",)}, "overlap"),
    ]:
        with pytest.raises(ValueError, match=message):
            CsvSchema(**kwargs)
