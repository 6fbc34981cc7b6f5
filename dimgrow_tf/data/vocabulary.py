"""Per-field value -> id vocabularies learned from training files."""

import collections
import json
import re
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.data.loader_utils import int_sort_key
from dimgrow_tf.io_utils import write_json_atomic

OOV_ID = 0
MISSING_ID = 1
FIRST_VALUE_ID = 2
KINDS = ("int", "str")
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

    This one mapping is used everywhere: the loaders encode training and
    evaluation files with it, and `export_saved_model(...,
    vocabulary=vocab)` looks raw strings up with exactly the same rule in
    the serving graph (unseen -> 0, missing token or absent feature -> 1).

    Args:
        values: dict. Field name -> the kept values in id order (value `k`
            in the list gets id `k + 2`). Field order is kept.
        kinds: dict or None. Field name -> `"int"` or `"str"`; `None` means
            `"str"` for every field. Defaults to `None`.
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
        self.min_count = _check_min_count(min_count)
        self.missing = _check_missing(missing)
        self.kinds = {}
        self._ids = {}
        self._values = {}
        for name, vals in values.items():
            kind = kinds.get(name, "str")
            if kind not in KINDS:
                raise ValueError(
                    f"Field {name!r}: kind must be one of {KINDS}. "
                    f"Received: {kind!r}"
                )
            FieldConfig(name, 1)
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
            self.kinds[name] = kind
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
                strings, `None` = missing), e.g. `RawTable.columns`.
            kinds: dict or None. Field name -> `"int"` or `"str"`; sets the
                id order. Defaults to `None` (all `"str"`).
            min_count: int. Values seen fewer times are left out (they map
                to the OOV id). Defaults to `1` (keep every value).
            missing: tuple of str. Values that mean missing (not kept).
                Defaults to `("",)`.
            discretise: tuple of str. Recorded (see the class). Defaults
                to `()`.

        Returns:
            A `Vocabulary`.
        """
        min_count = _check_min_count(min_count)
        missing = _check_missing(missing)
        kinds = dict(kinds or {})
        values = {}
        for name, column in columns.items():
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
        """Rows needed for `field`'s table: kept values + 2."""
        return FIRST_VALUE_ID + len(self._values[self._check_field(field)])

    def fields(self, dim=1):
        """One `FieldConfig` per field (width `dim`), in order."""
        return [FieldConfig(n, self.vocab_size(n), dim=dim) for n in self._values]

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
                missing). Must hold every field of the vocabulary; other
                keys raise.

        Returns:
            `(features, oov)`: dict field -> int32 array of ids, and dict
            field -> number of values mapped to the OOV id.
        """
        missing = [n for n in self._values if n not in columns]
        extra = [n for n in columns if n not in self._values]
        if missing or extra:
            raise ValueError(
                f"Columns do not match the vocabulary: missing {missing}, "
                f"unknown {extra}"
            )
        features, oov = {}, {}
        blank = self.missing
        for name, ids in self._ids.items():
            get = ids.get
            out = np.fromiter(
                (MISSING_ID if v is None or v in blank else get(v, OOV_ID)
                 for v in columns[name]),
                dtype=np.int32, count=len(columns[name]),
            )
            features[name] = out
            oov[name] = int(np.count_nonzero(out == OOV_ID))
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
            {f["name"]: f["values"] for f in fields},
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


def _check_missing(missing):
    if isinstance(missing, str) or not all(isinstance(m, str) for m in missing):
        raise ValueError(
            f"`missing` must be a list of strings. Received: missing={missing!r}"
        )
    return tuple(missing)


def _check_min_count(min_count):
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(
            f"`min_count` must be an integer >= 1. Received: min_count={min_count!r}"
        )
    return min_count
