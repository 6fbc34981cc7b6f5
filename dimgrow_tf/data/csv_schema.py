"""A small schema that describes a CTR table stored as CSV."""

import codecs
import dataclasses
from typing import Optional, Tuple, Union

from dimgrow_tf.data.column_utils import column_from_config
from dimgrow_tf.data.list_column import ListColumn
from dimgrow_tf.data.loader_utils import check_known_keys
from dimgrow_tf.data.text_column import TextColumn
from dimgrow_tf.field_config import FieldConfig


@dataclasses.dataclass(frozen=True)
class CsvSchema:
    """Which CSV columns are the label, categorical, integer and list fields.

    Fields are ordered `integer` columns first, then `categorical` ones,
    then `multivalent` ones, each in the order given. Other columns of the file are ignored. One
    record per line: a quoted cell may hold the delimiter or `""` but not
    a line break.

    Args:
        label: str. Label column; its cells must be in `positive` or
            `negative`. Defaults to `"label"`.
        categorical: tuple of str. Columns taken as strings, verbatim.
            Defaults to `()`.
        integer: tuple of str. Columns that must hold ASCII integers
            (int64 range). Defaults to `()`.
        discretise: bool or tuple of str. Integer columns to map through
            Criteo's `floor(ln(v)**2)` for `v > 2`; `True` means all of
            them. Defaults to `False`.
        delimiter: str. One character. Defaults to `","`.
        header: bool. The first line of each file names the columns.
            Defaults to `True`.
        columns: tuple of str or None. All column names in file order;
            required when `header=False`, checked against the header
            otherwise. Defaults to `None`.
        missing: tuple of str. Cells that mean "missing" in a field (they
            map to the missing id). Defaults to `("",)`.
        positive: tuple of str. Label cells meaning 1. Defaults to `("1",)`.
        negative: tuple of str. Label cells meaning 0. Defaults to `("0",)`.
        encoding: str. Text encoding. Defaults to `"utf-8"`.
        multivalent: tuple of ListColumn / TextColumn (or their config
            dicts, `{"name": ..., "kind": "list" | "text", ...}`). Columns
            holding a list of values (`"list"`, split at a separator) or a
            text (`"text"`, tokenized), each a multi-valent field. Defaults
            to `()`.

    Example:

    ```python
    schema = CsvSchema(label="click", categorical=("user", "ad"),
                       integer=("hour", "count"), discretise=("count",),
                       multivalent=({"name": "tags", "kind": "list"},))
    loader = CsvLoader(schema, on_error="skip")
    ```
    """

    label: str = "label"
    categorical: Tuple[str, ...] = ()
    integer: Tuple[str, ...] = ()
    discretise: Union[bool, Tuple[str, ...]] = False
    delimiter: str = ","
    header: bool = True
    columns: Optional[Tuple[str, ...]] = None
    missing: Tuple[str, ...] = ("",)
    positive: Tuple[str, ...] = ("1",)
    negative: Tuple[str, ...] = ("0",)
    encoding: str = "utf-8"
    multivalent: Tuple[Union[ListColumn, TextColumn], ...] = ()

    def __post_init__(self):
        for name in ("categorical", "integer", "missing", "positive", "negative"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ValueError(
                    f"`{name}` must be a list of strings, not one string. "
                    f"Received: {name}={value!r}"
                )
            object.__setattr__(self, name, tuple(value))
        if self.discretise is True:
            object.__setattr__(self, "discretise", self.integer)
        elif self.discretise is False:
            object.__setattr__(self, "discretise", ())
        else:
            object.__setattr__(self, "discretise", tuple(self.discretise))
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
        if isinstance(self.multivalent, (str, dict)):
            raise ValueError("`multivalent` must be a list of columns. Received: "
                             f"multivalent={self.multivalent!r}")
        object.__setattr__(self, "multivalent",
                           tuple(column_from_config(c) for c in self.multivalent))
        self._validate()

    @property
    def field_names(self):
        """Field names in order: integer, categorical, then multivalent columns."""
        return self.integer + self.categorical + tuple(c.name for c in self.multivalent)

    @property
    def kinds(self):
        """Field name -> `"int"`, `"str"`, `"list"` or `"text"`."""
        kinds = {n: "int" for n in self.integer}
        kinds.update({n: "str" for n in self.categorical})
        kinds.update({c.name: c.kind for c in self.multivalent})
        return kinds

    def get_config(self):
        """A JSON-ready dict; `from_config` gives an equal schema."""
        config = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        config["multivalent"] = [c.get_config() for c in self.multivalent]
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in config.items()}

    @classmethod
    def from_config(cls, config):
        """Builds a schema from `get_config()` output (or a JSON dict)."""
        check_known_keys(cls, config)
        return cls(**config)

    def _validate(self):
        names = self.field_names
        if not names:
            raise ValueError("A CsvSchema needs at least one categorical, "
                             "integer or multivalent column.")
        everything = (self.label,) + names
        dupes = sorted({n for n in everything if everything.count(n) > 1})
        if dupes:
            raise ValueError(f"Columns used twice in the schema: {dupes}")
        for name in names:
            FieldConfig(name, 1)
        extra = [n for n in self.discretise if n not in self.integer]
        if extra:
            raise ValueError(f"`discretise` names non-integer columns {extra}")
        if (not isinstance(self.delimiter, str) or len(self.delimiter) != 1
                or self.delimiter in '"\r\n'):
            raise ValueError(
                "`delimiter` must be one character other than a quote or a "
                f"line break. Received: delimiter={self.delimiter!r}"
            )
        if not self.header and self.columns is None:
            raise ValueError("`columns` is required when `header=False`.")
        if self.columns is not None:
            if len(set(self.columns)) != len(self.columns):
                raise ValueError(f"`columns` repeats names: {self.columns}")
            absent = [n for n in everything if n not in self.columns]
            if absent:
                raise ValueError(f"`columns` lacks schema columns {absent}")
        if not self.positive or not self.negative:
            raise ValueError("`positive` and `negative` must not be empty.")
        if set(self.positive) & set(self.negative):
            raise ValueError("`positive` and `negative` labels overlap: "
                             f"{sorted(set(self.positive) & set(self.negative))}")
        codecs.lookup(self.encoding)
