"""The DimGrow grow/shrink decision, as a pure function of the gates."""

import dataclasses
from typing import Any, Dict, Optional

import numpy as np

from dimgrow_tf.resize.field_resize import FieldResize


@dataclasses.dataclass(frozen=True)
class GrowthRule:
    """When a field grows or shrinks, given its gate values at a check.

    At each check, for each field of width `d >= 1`:

    - **grow** when every gate `g_1..g_d > high`, `d < max_dim` and the
      total width stays within `budget`;
    - else **shrink** when some gate `< low` and `d > 1`: every column whose
      gate is below `low` is dropped (the best-gated column always stays),
      and the remaining columns stay contiguous in their order;
    - a condition must hold at `window` consecutive checks before it acts
      (`window=1` is the reference's immediate rule).

    When the dims budget cannot take every field that wants to grow, the
    fields with the highest minimum gate grow first. With `budget_bytes`,
    a grow must also keep the embedding state within it; the cheapest dims
    (fewest bytes per column) grow first, ties broken by the higher gate.

    Args:
        low: float. Shrink threshold. Defaults to `0.01`.
        high: float. Grow threshold. Defaults to `0.6`.
        max_dim: int. Width cap for fields without their own `max_dim`.
            Defaults to `16`.
        budget: int. Cap on the total active width. Defaults to `1000`.
        window: int. Consecutive checks a condition must hold.
            Defaults to `1`.
        budget_bytes: int or None. Cap on the bytes of the embedding state;
            `decide` needs each field's bytes per column. Defaults to `None`.
    """

    low: float = 0.01
    high: float = 0.6
    max_dim: int = 16
    budget: int = 1000
    window: int = 1
    budget_bytes: Optional[int] = None

    def __post_init__(self):
        if not 0.0 <= self.low < self.high <= 1.0:
            raise ValueError(
                "Thresholds must satisfy 0 <= low < high <= 1. "
                f"Received: low={self.low}, high={self.high}"
            )
        for name in ("max_dim", "budget", "window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value!r}"
                )
        if self.budget_bytes is not None and (
            isinstance(self.budget_bytes, bool)
            or not isinstance(self.budget_bytes, int)
            or self.budget_bytes < 1
        ):
            raise ValueError(
                "`budget_bytes` must be a positive integer or None. "
                f"Received: budget_bytes={self.budget_bytes!r}"
            )

    def decide(self, fields, gates, streaks, column_bytes=None):
        """Returns `(plan, streaks)` for one check.

        Args:
            fields: list of FieldConfig with current widths.
            gates: dict `{name: np.ndarray of the field's gate values}`.
            streaks: dict `{name: (grow_streak, shrink_streak)}` from the
                previous check (missing names count as `(0, 0)`).
            column_bytes: dict `{name: bytes one column of the field costs}`;
                required with `budget_bytes`. Defaults to `None`.

        Returns:
            `plan`: dict `{name: FieldResize}` of the fields to resize;
            `streaks`: the updated streak counters.
        """
        if self.budget_bytes is not None and column_bytes is None:
            raise ValueError("`column_bytes` is required when `budget_bytes` is set.")
        plan, new_streaks, growers = {}, {}, []
        total = sum(f.dim for f in fields)
        used = sum(f.dim * column_bytes[f.name] for f in fields) if column_bytes else 0
        for f in fields:
            if f.dim == 0:
                continue
            g = np.asarray(gates[f.name], dtype="float64")
            grow_streak, shrink_streak = streaks.get(f.name, (0, 0))
            cap = f.max_dim or self.max_dim
            if np.all(g > self.high) and f.dim < cap:
                grow_streak, shrink_streak = grow_streak + 1, 0
                if grow_streak >= self.window:
                    growers.append((float(g.min()), f))
            elif g.min() < self.low and f.dim > 1:
                grow_streak, shrink_streak = 0, shrink_streak + 1
                if shrink_streak >= self.window:
                    drop = [int(k) for k in np.flatnonzero(g < self.low)]
                    if len(drop) == f.dim:
                        drop.remove(int(np.argmax(g)))
                    plan[f.name] = FieldResize.drop(f.dim, drop)
                    total -= len(drop)
                    if column_bytes:
                        used -= len(drop) * column_bytes[f.name]
                    shrink_streak = 0
            else:
                grow_streak, shrink_streak = 0, 0
            new_streaks[f.name] = (grow_streak, shrink_streak)
        if self.budget_bytes is None:
            order = sorted(growers, key=lambda item: -item[0])
        else:
            order = sorted(growers, key=lambda item: (column_bytes[item[1].name], -item[0]))
        for _, f in order:
            if total + 1 > self.budget:
                break
            if self.budget_bytes is not None:
                if used + column_bytes[f.name] > self.budget_bytes:
                    break  # the fields after it cost at least as much
                used += column_bytes[f.name]
            plan[f.name] = FieldResize.grow_by(f.dim)
            new_streaks[f.name] = (0, 0)
            total += 1
        return plan, new_streaks

    def get_config(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)
