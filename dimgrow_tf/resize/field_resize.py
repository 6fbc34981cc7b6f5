"""A field's resize, stated as a column mapping."""

import dataclasses
from typing import Tuple


@dataclasses.dataclass(frozen=True)
class FieldResize:
    """How one field's columns change in a resize.

    The new width is `len(keep) + grow`: column `j < len(keep)` of the new
    table is old column `keep[j]`; the `grow` fresh columns follow. Growing
    by one is `FieldResize(keep=(0, .., d-1), grow=1)`; dropping column `c`
    is `keep` without `c`, so the active slice stays contiguous.

    Args:
        keep: tuple of int. Old column indices kept, in their new order.
        grow: int. Number of fresh columns appended. Defaults to `0`.

    Example:

    ```python
    FieldResize(keep=(0, 2))            # width 3 -> 2, column 1 dropped
    FieldResize(keep=(0, 1, 2), grow=1)  # width 3 -> 4
    ```
    """

    keep: Tuple[int, ...]
    grow: int = 0

    def __post_init__(self):
        keep = tuple(int(k) for k in self.keep)
        object.__setattr__(self, "keep", keep)
        if len(set(keep)) != len(keep) or any(k < 0 for k in keep):
            raise ValueError(
                "`keep` must list distinct non-negative column indices. "
                f"Received: keep={keep}"
            )
        if int(self.grow) < 0:
            raise ValueError(f"`grow` must be >= 0. Received: grow={self.grow}")
        object.__setattr__(self, "grow", int(self.grow))
        if self.new_width < 1:
            raise ValueError(
                "A resize must leave at least one column. "
                f"Received: keep={keep}, grow={self.grow}"
            )

    @property
    def new_width(self) -> int:
        return len(self.keep) + self.grow

    def is_identity(self, old_width: int) -> bool:
        return self.grow == 0 and self.keep == tuple(range(old_width))

    @classmethod
    def grow_by(cls, old_width: int, n: int = 1) -> "FieldResize":
        return cls(keep=tuple(range(old_width)), grow=n)

    @classmethod
    def drop(cls, old_width: int, columns) -> "FieldResize":
        columns = set(int(c) for c in columns)
        return cls(keep=tuple(k for k in range(old_width) if k not in columns))
