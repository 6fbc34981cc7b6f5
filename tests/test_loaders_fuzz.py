import csv
import io

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from dimgrow_tf.data.criteo import CRITEO_FIELDS
from dimgrow_tf.data.criteo import CriteoLoader
from dimgrow_tf.data.csv_loader import CsvLoader
from dimgrow_tf.data.csv_schema import CsvSchema
from dimgrow_tf.data.frappe import FRAPPE_FIELDS
from dimgrow_tf.data.frappe import FrappeLoader
from dimgrow_tf.data.loader_utils import MalformedRowError
from dimgrow_tf.data.movielens import MOVIELENS_FIELDS
from dimgrow_tf.data.movielens import MovieLensLoader
from dimgrow_tf.data.vocabulary import Vocabulary

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
BAD = object()


class Bad(Exception):
    def __init__(self, field=None):
        self.field = field


def ascii_int(text):
    """Independent oracle of the integer rule: sign + ASCII digits, int64."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or any(ch not in "0123456789" for ch in body):
        return BAD
    if len(body.lstrip("0")) > 19:
        return BAD
    value = int(text)
    return value if -(2**63) <= value < 2**63 else BAD


def discretised(value):
    if value > 2:
        return int(np.floor(np.log(np.float64(value)) ** 2))
    return value


def criteo_oracle(line):
    cells = line.split("\t")
    if len(cells) != 40:
        raise Bad()
    if cells[0] not in ("0", "1"):
        raise Bad("label")
    values = []
    for name, cell in zip(CRITEO_FIELDS, cells[1:]):
        if cell == "":
            values.append(None)
        elif name.startswith("I"):
            value = ascii_int(cell)
            if value is BAD:
                raise Bad(name)
            values.append(str(discretised(value)))
        else:
            values.append(cell)
    return int(cells[0]), values


def frappe_oracle(line):
    tokens = [t for t in line.replace("\t", " ").split(" ") if t]
    if len(tokens) != 11:
        raise Bad()
    labels = {"1": 1, "+1": 1, "0": 0, "-1": 0}
    if tokens[0] not in labels:
        raise Bad("label")
    values = []
    for name, token in zip(FRAPPE_FIELDS, tokens[1:]):
        if ":" not in token:
            raise Bad(name)
        index, value = token.split(":", 1)
        mantissa = value[1:] if value.startswith("+") else value
        whole, _, frac = mantissa.partition(".")
        if whole != "1" or frac.strip("0"):
            raise Bad(name)
        number = ascii_int(index) if index[:1] not in ("+", "-") else BAD
        if number is BAD:
            raise Bad(name)
        values.append(str(number))
    return labels[tokens[0]], values


USERS = {"1": ("24", "M", "technician", "85711"), "2": ("53", None, "other", "T8")}
ITEMS = {"10": ("Action", "1995"), "20": ("unknown", None)}


def movielens_oracle(line):
    cells = line.split("\t")
    if len(cells) != 4:
        raise Bad()
    user, item, rating, stamp = (ascii_int(c) for c in cells)
    for name, value in (("user_id", user), ("item_id", item), ("rating", rating)):
        if value is BAD:
            raise Bad(name)
    if not 1 <= rating <= 5:
        raise Bad("rating")
    if stamp is BAD:
        raise Bad("timestamp")
    side = USERS.get(str(user), (None,) * 4) + ITEMS.get(str(item), (None, None))
    return int(rating >= 4), [str(user), str(item), *side]


SCHEMA = CsvSchema(label="y", categorical=("c",), integer=("n", "d"),
                   discretise=("d",), missing=("", "NA"), header=False,
                   columns=("y", "c", "n", "d"))


def csv_oracle(cells):
    if len(cells) != 4 or any("\x00" in c for c in cells):
        raise Bad()
    y, c, n, d = cells
    if y not in ("0", "1"):
        raise Bad("y")
    values = []
    for name, cell in (("n", n), ("d", d)):
        if cell in ("", "NA"):
            values.append(None)
            continue
        value = ascii_int(cell)
        if value is BAD:
            raise Bad(name)
        values.append(str(discretised(value) if name == "d" else value))
    return int(y), values + [None if c in ("", "NA") else c]


def check_line(loader, line, oracle, oracle_input=None):
    """One line: a faithful parse, or an error naming the same line/field."""
    stripped = line.removesuffix("\r")
    if stripped == "":
        table = loader.read_text(line + "\n", source="fuzz.txt")
        assert len(table) == 0 and table.stats.blank_lines == 1
        return
    try:
        expected = oracle(stripped if oracle_input is None else oracle_input)
    except Bad as bad:
        with pytest.raises(MalformedRowError) as info:
            loader.read_text(line + "\n", source="fuzz.txt")
        assert str(info.value).startswith("fuzz.txt, line 1")
        assert info.value.field == bad.field
        event(f"malformed ({'row' if bad.field is None else 'field'})")
        return
    table = loader.read_text(line + "\n", source="fuzz.txt")
    event("parsed")
    assert len(table) == 1
    assert (int(table.labels[0]), [table.columns[n][0] for n in table.columns]) == expected


def text(chars="\n", size=6):
    return st.text(st.characters(blacklist_characters=chars, codec="utf-8"),
                   max_size=size)


SPECIAL_INTS = ["+1", "-0", "007", "1_0", " 1", "1.0", "\u0663", "\u00b2",
                "9" * 19, "-" + "9" * 19, "9223372036854775807", "1e3", "0x1f"]
good_ints = st.one_of(st.integers(-2, 10**6).map(str), st.just(""),
                      st.integers(0, 2**63 - 1).map(str))
bad_ints = st.one_of(st.integers(-(2**70), 2**70).map(str),
                     st.sampled_from(SPECIAL_INTS), text("\n\t", 4))
labels = st.one_of(st.sampled_from(["0", "1", "2", "", "-1", "+1", "01", " 1"]),
                   text("\n\t", 3))


def corrupt(draw, cells, pools):
    """Leaves `cells` clean (most often), replaces one cell, or drops/adds one.

    Cell `i` is replaced by a draw from `pools[i]` (cells past the pools
    accept any value and are left alone).
    """
    mode = draw(st.sampled_from(["clean", "clean", "cell", "cell", "count"]))
    if mode == "cell":
        i = draw(st.integers(0, len(pools) - 1))
        cells[i] = draw(pools[i])
    elif mode == "count":
        if draw(st.booleans()):
            del cells[draw(st.integers(0, len(cells) - 1))]
        else:
            cells.insert(draw(st.integers(0, len(cells))), draw(text("\n\t", 3)))
    return cells


@st.composite
def criteo_lines(draw):
    cells = [draw(st.sampled_from(["0", "1"]))]
    cells += [draw(good_ints) for _ in range(13)]
    cells += [draw(st.one_of(st.just(""), text("\n\t", 9))) for _ in range(26)]
    pools = [labels] + [bad_ints] * 13
    return "\t".join(corrupt(draw, cells, pools))


@FUZZ
@given(criteo_lines())
def test_fuzz_criteo_line(line):
    check_line(CriteoLoader(), line, criteo_oracle)


good_tokens = st.tuples(
    st.integers(0, 10**6).map(str),
    st.sampled_from(["1", "1", "1", "+1", "1.0", "1."]),
).map(":".join)
bad_tokens = st.one_of(
    st.tuples(st.integers(-9, 2**70).map(str),
              st.sampled_from(["0", "2", "1.5", "", "11", "+1.00", "1.01"]))
    .map(":".join),
    st.sampled_from(["7", ":1", "1:1:1", "+5:1", "\u0663:1"]),
    text("\n \t", 6),
)


@st.composite
def frappe_lines(draw):
    tokens = [draw(st.sampled_from(["1", "-1", "+1", "0"]))]
    tokens += [draw(good_tokens) for _ in range(10)]
    pools = [st.sampled_from(["2", "1.0", "", "--1", "x"])] + [bad_tokens] * 10
    tokens = corrupt(draw, tokens, pools)
    seps = [draw(st.sampled_from([" ", " ", "\t", "  ", " \t "])) for _ in tokens]
    line = "".join(t + sep for t, sep in zip(tokens, seps))
    return draw(st.sampled_from(["", " ", "\t"])) + line[: -len(seps[-1])]


@FUZZ
@given(frappe_lines())
def test_fuzz_frappe_line(line):
    check_line(FrappeLoader(), line, frappe_oracle)


def movielens_loader():
    loader = MovieLensLoader()
    loader.load_side_tables(
        "u.user", "u.item",
        user_text="1|24|M|technician|85711\n2|53||other|T8\n",
        item_text="10|A|01-Jan-1995|||" + "|".join(["0", "1"] + ["0"] * 17)
        + "\n20|B||||" + "|".join(["1"] + ["0"] * 18) + "\n")
    return loader


ML_BAD = st.one_of(st.sampled_from(["0", "6", "-1", "4.0", "", " 2", "9" * 30]),
                   text("\n\t", 4))


@st.composite
def movielens_lines(draw):
    cells = [draw(st.sampled_from(["1", "2", "3", "01", "+2"])),
             draw(st.sampled_from(["10", "20", "99", "010"])),
             draw(st.integers(1, 5).map(str)),
             draw(st.integers(0, 2**40).map(str))]
    return "\t".join(corrupt(draw, cells, [ML_BAD] * 4))


@FUZZ
@given(movielens_lines())
def test_fuzz_movielens_u_data_line(line):
    check_line(movielens_loader(), line, movielens_oracle)


CSV_BAD = st.one_of(st.sampled_from(["2", "+3", "1.0", "yes", "1e3"]),
                    st.integers(-(2**64), 2**64).map(str), text("\n\r", 8))
CSV_TEXT = text("\n\r", 8)


@st.composite
def csv_rows(draw):
    cells = [draw(st.sampled_from(["0", "1"])),
             draw(st.one_of(CSV_TEXT, st.sampled_from(["NA", "", '"', ",;|"]))),
             draw(st.one_of(good_ints, st.just("NA"))),
             draw(st.one_of(good_ints, st.just("NA")))]
    return corrupt(draw, cells, [CSV_BAD] * 4)


@FUZZ
@given(csv_rows(), st.sampled_from([",", ";", "\t", "|"]))
@example(["1", "a\x00b", "2", "3"], ",")
@example(["1", 'say "hi", ok', "", "NA"], ",")
def test_fuzz_csv_row_written_by_csv_writer(cells, delimiter):
    schema = CsvSchema.from_config(dict(SCHEMA.get_config(), delimiter=delimiter))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(cells)
    check_line(CsvLoader(schema), out.getvalue(), csv_oracle, oracle_input=cells)


RAW_CSV_CELLS = st.one_of(st.sampled_from(['"', '""', '"a"', '"a,b"', 'a"b', "1"]),
                          CSV_TEXT, st.integers(0, 9).map(str))


@FUZZ
@given(st.one_of(
    st.lists(RAW_CSV_CELLS, min_size=3, max_size=5),
    st.tuples(st.sampled_from(["0", "1", '"1"', '"0', "1 "]), RAW_CSV_CELLS,
              good_ints, good_ints),
).map(",".join))
def test_fuzz_csv_raw_line_matches_the_csv_module(line):
    stripped = line.removesuffix("\r")
    try:
        rows = list(csv.reader([stripped], strict=True))
        cells = rows[0] if len(rows) == 1 and "\x00" not in stripped else None
    except csv.Error:
        cells = None
    if cells is None and stripped:
        with pytest.raises(MalformedRowError, match=r"^fuzz\.txt, line 1: "):
            CsvLoader(SCHEMA).read_text(line + "\n", source="fuzz.txt")
        event("malformed (quoting)")
        return
    check_line(CsvLoader(SCHEMA), line, csv_oracle, oracle_input=cells)


def random_file_strategy(line_strategy):
    return st.lists(st.one_of(line_strategy, text("", 30)), max_size=12).map(
        "\n".join)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(random_file_strategy(criteo_lines()))
def test_fuzz_whole_file_skip_mode_accounts_for_every_line(blob):
    table = CriteoLoader(on_error="skip").read_text(blob, source="blob.txt")
    lines = blob.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    stats = table.stats
    assert stats.lines == len(lines)
    assert stats.rows + stats.skipped + stats.blank_lines == stats.lines
    assert sum(stats.skip_reasons.values()) == stats.skipped
    for i, line_no in enumerate(table.line_numbers):
        label, values = criteo_oracle(lines[line_no - 1].removesuffix("\r"))
        assert table.labels[i] == label
        assert [table.columns[n][i] for n in CRITEO_FIELDS] == values
    bad = [k + 1 for k, line in enumerate(lines) if _is_bad(line)]
    assert stats.skipped == len(bad)
    if bad:
        with pytest.raises(MalformedRowError, match=rf"^blob\.txt, line {bad[0]}\b"):
            CriteoLoader().read_text(blob, source="blob.txt")


def _is_bad(line):
    line = line.removesuffix("\r")
    try:
        return bool(line) and criteo_oracle(line) is None
    except Bad:
        return True


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_raw_bytes_never_crash(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "b.libfm"
    path.write_bytes(data)
    for loader in (FrappeLoader(on_error="skip"), CriteoLoader(on_error="skip"),
                   FrappeLoader()):
        try:
            stats = loader.read(path).stats
        except MalformedRowError as err:
            assert str(err).startswith(f"{path}, line {err.line}")
            assert loader.on_error == "raise" or err.kind == "gzip"
            assert err.kind != "gzip" or data.startswith(b"\x1f\x8b")
            continue
        assert stats.rows + stats.skipped + stats.blank_lines == stats.lines


@FUZZ
@given(st.lists(st.one_of(st.none(), text("", 5)), max_size=20), st.integers(1, 3))
def test_fuzz_vocabulary_round_trip_and_sorted_ids(tmp_path_factory, values, min_count):
    vocab = Vocabulary.fit({"f": values}, min_count=min_count)
    kept = vocab.values("f")
    assert kept == sorted(kept)
    path = tmp_path_factory.mktemp("vocab") / "v.json"
    vocab.save(path)
    restored = Vocabulary.load(path)
    assert restored == vocab
    features, oov = restored.encode({"f": values})
    ids = features["f"]
    for value, i in zip(values, ids):
        if value is None or value in vocab.missing:   # "" is missing by default
            assert i == 1
        elif values.count(value) >= min_count:
            assert kept[i - 2] == value
        else:
            assert i == 0
    assert oov["f"] == int(np.sum(ids == 0))


def test_movielens_fixture_fields_match_oracle_order():
    assert list(MOVIELENS_FIELDS)[2:] == ["age", "gender", "occupation", "zip",
                                         "genre", "year"]
