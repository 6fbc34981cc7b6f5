"""A CSV column holding a list of values per row (a multi-valent field)."""

import dataclasses
from typing import Optional

from dimgrow_tf.data import column_utils as cu


@dataclasses.dataclass(frozen=True)
class ListColumn:
    """A column whose cells hold several values, e.g. `Action|Comedy`.

    The cell is split at `separator` into values; each value maps to an id
    by the field's `Vocabulary` (kind `"list"`: the values kept from the
    training rows, sorted by code point), exactly as a categorical value
    does: a kept value gets its id (2..), a value not kept 0 (OOV). Values
    equal to a missing token (`CsvSchema.missing`, `""` by default, so
    `a||b` holds `a` and `b`) are dropped, and a row left without values
    (a missing cell) is the list `[1]` (missing). The field is a
    `FieldConfig` with this `combiner` and `max_len`, searched like any.

    Args:
        name: str. Column and field name.
        separator: str. Non-empty separator of the values in a cell (the
            CSV delimiter too, in a quoted cell). Defaults to `"|"`.
        combiner: str. `"mean"`, `"sum"` or `"sqrtn"`. Defaults to
            `"mean"`.
        max_len: int or None. Keep the first `max_len` values of a row (in
            loading and in serving; the values cut are counted in the
            split's `stats.notes`), and feed the model `(batch, max_len)`.
            Defaults to `None` (every value; any length).

    Example:

    ```python
    genres = ListColumn("genres", separator="|", combiner="mean", max_len=6)
    schema = CsvSchema(label="click", categorical=("user",), multivalent=(genres,))
    ```
    """

    name: str
    separator: str = "|"
    combiner: str = "mean"
    max_len: Optional[int] = None

    kind = "list"

    def __post_init__(self):
        cu.check_common(self)
        if not isinstance(self.separator, str) or not self.separator \
                or any(c in self.separator for c in '\r\n"'):
            raise ValueError(
                f"Column {self.name!r}: `separator` must be a non-empty string "
                f"without quotes or line breaks. Received: separator={self.separator!r}"
            )

    def split(self, cell):
        """The values of one cell, in order (missing tokens included)."""
        return tuple(cell.split(self.separator))

    def get_config(self):
        """A JSON-ready dict with `kind: "list"`; `from_config` inverts it."""
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_config(cls, config):
        """Builds a column from `get_config()` output (or a JSON dict)."""
        return cls(**cu.strip_kind(cls, config))
