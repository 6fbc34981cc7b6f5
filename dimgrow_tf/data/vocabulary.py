"""Per-field value -> id vocabularies learned from training files."""

import collections
import json
import re
from typing import Dict, Mapping, Optional, Sequence

from dimgrow_tf.data import vocabulary_utils as vu
from dimgrow_tf.data.column_utils import check_tokenizer_config
from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.data.loader_utils import int_sort_key
from dimgrow_tf.io_utils import write_json_atomic

OOV_ID = vu.OOV_ID
MISSING_ID = vu.MISSING_ID
FIRST_VALUE_ID = 2
KINDS = ("int", "str", "list", "text")
# Ids of a text field tokenized into UTF-8 bytes (`TextTokenizer()`).
BYTE_VOCAB_SIZE = 256 + FIRST_VALUE_ID
_FORMAT = "dimgrow_tf.Vocabulary/1"
_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]*")


class Vocabulary:
    """Maps each field's raw values to ids, with missing and OOV ids.

    Id layout of every field (the same for all fields):

    | id | meaning |
    | --- | --- |
    | 0 (`OOV_ID`) | a value not in the vocabulary: unseen in training, or rarer than `min_count` |
    | 1 (`MISSING_ID`) | a missing value: `None`, or one of the `missing` tokens (the empty string by default) |
    | 2.. | the kept training values, sorted (numerically for `"int"` fields, by code point for `"str"` fields) |

    So `vocab_size(field) = 2 + number of kept values`, and both special
    ids exist even if training had no missing or rare values, which keeps
    the layout the same at serving time. Values are canonical strings
    (`str(int)` for `"int"` fields); `None` means missing.

    Two kinds hold a list of ids per row (multi-valent fields, encoded as
    `(rows, length)` arrays padded with `PAD_ID`): a `"list"` field maps
    each value of a row like a `"str"` field and drops missing tokens; a
    `"text"` field keeps its `TextTokenizer`'s config (WordPiece vocabulary
    or bytes) instead of values and tokenizes each text. A row without
    values or tokens (missing) is `[1]`.

    This one mapping is used everywhere: the loaders encode training and
    evaluation files with it, and `export_saved_model(...,
    vocabulary=vocab)` looks raw strings up with exactly the same rule in
    the serving graph (unseen -> 0, missing token or absent feature -> 1).

    Args:
        values: dict. Field name -> the kept values in id order (value `k`
            in the list gets id `k + 2`). Field order is kept.
            A `"text"` field maps to its tokenizer config `{"vocabulary",
            "lowercase", "max_len"}` (`TextColumn.fit`).
        kinds: dict or None. Field name -> `"int"`, `"str"`, `"list"` or
            `"text"`; `None` means `"str"` for every field. Defaults to
            `None`.
        min_count: int. The threshold the vocabulary was fitted with
            (recorded only). Defaults to `1`.
        missing: tuple of str. Raw values that mean "missing" (id 1), e.g.
            a `CsvSchema`'s `missing` cells. No kept value may be one of
            them. Defaults to `("",)`.
        discretise: tuple of str. `"int"` fields whose raw values the
            loader maps through `floor(ln(v)**2)` for `v > 2` before the
            lookup (Criteo's integers, a `CsvSchema`'s `discretise`); the
            values here are the discretised ones, and the serving graph
            repeats the discretisation on raw values. Defaults to `()`.

    Example:

    ```python
    vocab = Vocabulary.fit({"user": ["u2", "u1", None, "u2"]})
    vocab.lookup("user", "u1")          # 2
    vocab.lookup("user", None)          # 1 (missing)
    vocab.lookup("user", "u9")          # 0 (OOV)
    vocab.save("vocab.json")
    fields = Vocabulary.load("vocab.json").fields()   # FieldConfig("user", 4)
    ```
    """

    def __init__(self, values, kinds=None, min_count=1, missing=("",),
                 discretise=()):
        kinds = dict(kinds or {})
        self.min_count = vu.check_min_count(min_count)
        self.missing = vu.check_missing(missing)
        self.kinds = {}
        self._ids = {}
        self._values = {}
        self._texts = {}
        self._tokenizers = {}
        for name, vals in values.items():
            kind = kinds.get(name, "str")
            if kind not in KINDS:
                raise ValueError(
                    f"Field {name!r}: kind must be one of {KINDS}. "
                    f"Received: {kind!r}"
                )
            FieldConfig(name, 1)
            self.kinds[name] = kind
            if kind == "text":
                self._texts[name] = check_tokenizer_config(name, vals)
                words = self._texts[name]["vocabulary"]
                self._values[name] = [] if words is None else words[FIRST_VALUE_ID:]
                self._ids[name] = {}
                continue
            vals = list(vals)
            for v in vals:
                if not isinstance(v, str):
                    raise ValueError(
                        f"Field {name!r}: values must be strings. Received: {v!r}"
                    )
                if v in self.missing:
                    raise ValueError(
                        f"Field {name!r}: value {v!r} is also a missing "
                        f"token {list(self.missing)}."
                    )
                if kind == "int" and not _CANONICAL_INT.fullmatch(v):
                    raise ValueError(
                        f"Field {name!r} has kind 'int' but value {v!r} is "
                        "not a canonical integer."
                    )
            ids = {v: FIRST_VALUE_ID + i for i, v in enumerate(vals)}
            if len(ids) != len(vals):
                dupes = [v for v, c in collections.Counter(vals).items() if c > 1]
                raise ValueError(f"Field {name!r}: duplicate values {dupes[:5]}")
            self._ids[name] = ids
            self._values[name] = vals
        unknown = set(kinds) - set(self.kinds)
        if unknown:
            raise ValueError(f"`kinds` names unknown fields {sorted(unknown)}")
        self.discretise = tuple(discretise)
        bad = [n for n in self.discretise if self.kinds.get(n) != "int"]
        if bad:
            raise ValueError(f"`discretise` names fields that are not 'int' fields: {bad}")

    @classmethod
    def fit(cls, columns: Mapping[str, Sequence[Optional[str]]],
            kinds: Optional[Dict[str, str]] = None, min_count: int = 1,
            missing: Sequence[str] = ("",), discretise: Sequence[str] = ()):
        """Learns a vocabulary from training columns.

        Args:
            columns: dict. Field name -> sequence of values (canonical
                strings, `None` = missing; a `"list"` field: tuples of
                strings), e.g. `RawTable.columns`.
            kinds: dict or None. Field name -> `"int"`, `"str"` or
                `"list"`; sets the id order. Defaults to `None` (all
                `"str"`). `"text"` fields are fitted by `TextColumn.fit`.
            min_count: int. Values seen fewer times are left out (they map
                to the OOV id). Defaults to `1` (keep every value).
            missing: tuple of str. Values that mean missing (not kept).
                Defaults to `("",)`.
            discretise: tuple of str. Recorded (see the class). Defaults
                to `()`.

        Returns:
            A `Vocabulary`.
        """
        min_count = vu.check_min_count(min_count)
        missing = vu.check_missing(missing)
        kinds = dict(kinds or {})
        values = {}
        for name, column in columns.items():
            if kinds.get(name) == "text":
                raise ValueError(f"Field {name!r} has kind 'text': fit its tokenizer "
                                 "with `TextColumn.fit` and pass the config.")
            if kinds.get(name) == "list":
                counts = collections.Counter(vu.list_values(name, column, missing))
            else:
                counts = collections.Counter(
                    v for v in column if v is not None and v not in missing)
            kept = [v for v, c in counts.items() if c >= min_count]
            key = int_sort_key if kinds.get(name, "str") == "int" else None
            values[name] = sorted(kept, key=key)
        return cls(values, kinds, min_count, missing, discretise)

    @property
    def field_names(self):
        """Field names, in order."""
        return list(self._values)

    def vocab_size(self, field):
        """Rows needed for `field`'s table: kept values + 2 (a byte-level
        text field: 258)."""
        field = self._check_field(field)
        if field in self._texts and self._texts[field]["vocabulary"] is None:
            return BYTE_VOCAB_SIZE
        return FIRST_VALUE_ID + len(self._values[field])

    def fields(self, dim=1, combiners=None):
        """One `FieldConfig` per field (width `dim`), in order.

        `combiners`: dict `{field: (combiner, max_len)}` of the `"list"` and
        `"text"` fields (default: `("mean", None)`)."""
        combiners = combiners or {}
        out = []
        for name in self._values:
            combiner, max_len = None, None
            if self.kinds[name] in ("list", "text"):
                combiner, max_len = combiners.get(name, ("mean", None))
            out.append(FieldConfig(name, self.vocab_size(name), dim=dim,
                                   combiner=combiner, max_len=max_len))
        return out

    @property
    def text_fields(self):
        """Names of the `"text"` fields, in order."""
        return list(self._texts)

    def tokenizer(self, field):
        """The `TextTokenizer` of a `"text"` field (built once; needs
        keras-hub, the `text` extra)."""
        if field not in self._texts:
            raise KeyError(f"Field {field!r} is not a text field; text fields: "
                           f"{self.text_fields}")
        if field not in self._tokenizers:
            from dimgrow_tf.layers.text_tokenizer import TextTokenizer

            self._tokenizers[field] = TextTokenizer(**self._texts[field])
        return self._tokenizers[field]

    def values(self, field):
        """The kept values of `field`, in id order (first one has id 2)."""
        return list(self._values[self._check_field(field)])

    def lookup(self, field, value):
        """The id of one `value` of `field` (`None` or a missing token:
        `MISSING_ID`; a value not kept: `OOV_ID`)."""
        if value is None or value in self.missing:
            return MISSING_ID
        return self._ids[self._check_field(field)].get(value, OOV_ID)

    def encode(self, columns):
        """Encodes columns of values into int32 id arrays.

        Args:
            columns: dict. Field name -> sequence of values (`None` =
                missing; rows of a `"list"` field are tuples of strings,
                of a `"text"` field strings). Must hold every field of the
                vocabulary; other keys raise.

        Returns:
            `(features, oov)`: dict field -> int32 array of ids (`"list"`
            and `"text"` fields: `(rows, length)` padded with `PAD_ID`),
            and dict field -> number of values (tokens) mapped to OOV.

        Raises:
            ValueError: a value of the wrong type, e.g. a list in a field
                of one value per row, naming the field and row.
        """
        missing = [n for n in self._values if n not in columns]
        extra = [n for n in columns if n not in self._values]
        if missing or extra:
            raise ValueError(
                f"Columns do not match the vocabulary: missing {missing}, "
                f"unknown {extra}"
            )
        features, oov = {}, {}
        for name, ids in self._ids.items():
            kind, column = self.kinds[name], columns[name]
            if kind == "text":
                encoded = vu.encode_texts(name, column, self.tokenizer(name), self.missing)
            elif kind == "list":
                encoded = vu.encode_lists(name, column, ids, self.missing)
            else:
                encoded = vu.encode_scalars(name, column, ids, self.missing)
            features[name], oov[name] = encoded
        return features, oov

    def get_config(self):
        """A JSON-ready dict; `from_config` restores the same mapping."""
        return {
            "format": _FORMAT,
            "layout": {"oov": OOV_ID, "missing": MISSING_ID,
                       "first_value": FIRST_VALUE_ID},
            "min_count": self.min_count,
            "missing": list(self.missing),
            "discretise": list(self.discretise),
            "fields": [
                {"name": n, "kind": "text", "tokenizer": self._texts[n]}
                if n in self._texts else
                {"name": n, "kind": self.kinds[n], "values": self._values[n]}
                for n in self._values
            ],
        }

    @classmethod
    def from_config(cls, config):
        """Rebuilds a vocabulary from `get_config()` output."""
        if config.get("format") != _FORMAT:
            raise ValueError(
                f"Not a {_FORMAT} vocabulary: format={config.get('format')!r}. "
                "Use the vocabulary.json that `dimgrow search` or "
                "`Vocabulary.save` writes (ids 0 = OOV, 1 = missing, 2.. = "
                "values)."
            )
        fields = config["fields"]
        names = [f["name"] for f in fields]
        if len(set(names)) != len(names):
            raise ValueError(f"Duplicate field names in vocabulary: {names}")
        return cls(
            {f["name"]: f["tokenizer"] if f.get("kind") == "text" else f["values"]
             for f in fields},
            {f["name"]: f["kind"] for f in fields},
            config.get("min_count", 1),
            tuple(config.get("missing", ("",))),
            tuple(config.get("discretise", ())),
        )

    def save(self, path):
        """Writes the vocabulary as JSON to `path`."""
        write_json_atomic(path, self.get_config(), ensure_ascii=False)

    @classmethod
    def load(cls, path):
        """Reads a vocabulary written by `save`."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_config(json.load(fh))

    def __eq__(self, other):
        return (isinstance(other, Vocabulary)
                and self.get_config() == other.get_config())

    def __repr__(self):
        sizes = ", ".join(f"{n}={self.vocab_size(n)}" for n in self._values)
        return f"Vocabulary({sizes})"

    def _check_field(self, field):
        if field not in self._values:
            raise KeyError(
                f"Unknown field {field!r}; the vocabulary has {self.field_names}"
            )
        return field
