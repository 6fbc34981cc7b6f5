"""Per-field configuration of a categorical input."""

import dataclasses
import numbers
from typing import Any, Dict, Optional

COMBINERS = ("mean", "sum", "sqrtn")
# Padding of a multi-valent field's padded id lists: never looked up.
PAD_ID = -1


@dataclasses.dataclass(frozen=True)
class FieldConfig:
    """One categorical field: its vocabulary and its embedding width.

    Ids of a field must lie in `[0, vocab_size)`. The width `dim` is the
    field's *current* number of embedding columns: 1 when a DimGrow search
    starts, the searched width in a fixed model, 0 for a dropped field.

    A field with a `combiner` is *multi-valent*: each row holds a list of
    ids (e.g. a movie's genres, a title's tokens), given as a
    `tf.RaggedTensor` or as a padded `(batch, length)` tensor whose padding
    is `PAD_ID` (-1). The rows of its ids are combined into one vector of
    width `dim` (`"mean"`, `"sum"`, or `"sqrtn"`: the sum divided by the
    square root of the count); a row without ids gives zeros. Its width is
    searched exactly like a single-valued field's.

    Args:
        name: str. Field name; also the input key. Must be a valid
            identifier-like string (letters, digits, `_`, `-`, `.`).
        vocab_size: int. Number of rows of the field's table (> 0).
        dim: int. Current embedding width (>= 0). Defaults to `1`.
        max_dim: int or None. Per-field cap on the width during a search;
            `None` uses the callback's `max_dim`. Defaults to `None`.
        combiner: str or None. `"mean"`, `"sum"` or `"sqrtn"` for a
            multi-valent field; `None` for a single id per row. Defaults to
            `None`.
        max_len: int or None. Multi-valent fields only: the fixed list
            length of the model input (`keras.Input((max_len,))`); `None`
            accepts any length. Defaults to `None`.

    Example:

    ```python
    user = dimgrow_tf.FieldConfig("user_id", vocab_size=6040)
    item = dimgrow_tf.FieldConfig("item_id", vocab_size=3706, max_dim=8)
    genres = dimgrow_tf.FieldConfig("genres", vocab_size=21, combiner="mean")
    ```
    """

    name: str
    vocab_size: int
    dim: int = 1
    max_dim: Optional[int] = None
    combiner: Optional[str] = None
    max_len: Optional[int] = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(
                f"`name` must be a non-empty string. Received: name={self.name!r}"
            )
        bad = [c for c in self.name if not (c.isalnum() or c in "_-.")]
        if bad:
            raise ValueError(
                f"Field name {self.name!r} has characters {bad!r}; use letters, "
                "digits, '_', '-' or '.' only."
            )
        for arg, minimum in (("vocab_size", 1), ("dim", 0), ("max_dim", 1),
                             ("max_len", 1)):
            value = getattr(self, arg)
            if arg in ("max_dim", "max_len") and value is None:
                continue
            object.__setattr__(
                self, arg, _as_int(self.name, arg, value, minimum)
            )
        if self.combiner is not None and self.combiner not in COMBINERS:
            raise ValueError(
                f"Field {self.name!r}: `combiner` must be one of {COMBINERS} "
                f"or None. Received: combiner={self.combiner!r}"
            )
        if self.max_len is not None and self.combiner is None:
            raise ValueError(
                f"Field {self.name!r}: `max_len` needs a `combiner` (a "
                "multi-valent field). Received: max_len="
                f"{self.max_len!r}, combiner=None"
            )

    @property
    def multivalent(self) -> bool:
        """Whether a row holds a list of ids (the field has a combiner)."""
        return self.combiner is not None

    def with_dim(self, dim: int) -> "FieldConfig":
        """Returns a copy of this config with width `dim`."""
        return dataclasses.replace(self, dim=int(dim))

    def get_config(self) -> Dict[str, Any]:
        config = dataclasses.asdict(self)
        # Single-valued fields keep the config (and JSON) they always had.
        for key in ("combiner", "max_len"):
            if config[key] is None:
                del config[key]
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "FieldConfig":
        return cls(**config)


def _as_int(field, arg, value, minimum):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if int(value) >= minimum:
            return int(value)
    raise ValueError(
        f"Field {field!r}: `{arg}` must be an integer >= {minimum}. "
        f"Received: {arg}={value!r}"
    )


def check_unique_fields(fields) -> None:
    """Raises if `fields` is empty, not FieldConfigs, or repeats a name."""
    fields = list(fields)
    if not fields:
        raise ValueError("`fields` must list at least one FieldConfig.")
    seen = set()
    for f in fields:
        if not isinstance(f, FieldConfig):
            raise TypeError(
                f"Expected FieldConfig objects in `fields`. Received: {f!r}"
            )
        if f.name in seen:
            raise ValueError(f"Duplicate field name {f.name!r} in `fields`.")
        seen.add(f.name)
