"""The settings of a DimGrow search: rule, cadence, settling and gates."""

import dataclasses
from typing import Any, Dict, Optional

from dimgrow_tf.callbacks.growth_rule import GrowthRule
from dimgrow_tf.config_utils import dataclass_from_config

_MODES = ("auto", "max", "min")
_GATE_UPDATES = ("validation", "train")
_FINAL_DIMS = ("widths", "gates")
_FINAL_MODELS = ("best", "retrain", "searched")


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """Everything a DimGrow search decides with, in one place.

    The defaults were chosen on Frappe, MovieLens-100K and Criteo together
    (`benchmarks/accuracy_benchmark.py`, README "Results"); every entry
    point (Python, CLI, TFX, benchmarks) reads them from here.

    Args:
        alpha: float. Gate regulariser strength (reference values:
            MovieLens 0.1, Avazu 0.005, Criteo 0.02). Defaults to `0.02`.
        regularizer: str. Form of the gate regulariser (see
            `DimGrowEmbedding`). Defaults to `"reference"`.
        low: float. Shrink threshold of a gate. Defaults to `0.01`.
        high: float. Grow threshold of a gate. Defaults to `0.6`.
        max_dim: int. Width cap of a field without its own `max_dim`.
            Defaults to `16`.
        budget: int. Cap on the total width (sum of dims). Defaults to
            `1000`.
        budget_bytes: int or None. Cap on the bytes of the embedding state
            (tables, projections, gates and every optimizer slot of them).
            When it binds, the cheapest useful dims grow first. Defaults to
            `None` (no cap).
        window: int. Consecutive checks a grow/shrink condition must hold.
            Defaults to `1`.
        check_every: int. Training steps between checks. Defaults to `1`
            (the reference's cadence; a check reads the gates once).
        settle_checks: int or None. The search counts as *settled* after
            this many checks without a resize; `None` means the checks of
            the whole epoch, so an epoch that resized is never settled.
            While it is not settled, an `EarlyStopping` beside the callback
            does not count the epoch towards its patience, so a search never
            ends while widths are still changing. Defaults to `None`.
        monitor: str. Metric picking the best epoch (its gates give the
            final dims). Defaults to `"val_auc"`.
        mode: str. `"max"`, `"min"` or `"auto"` (max for names holding
            `"auc"` or `"acc"`). Defaults to `"auto"`.
        gate_updates: str. Where the gates learn in `search` /
            `search_and_retrain` (and so the CLI, TFX and benchmarks):
            `"validation"` steps them on a validation batch after each
            training step (first-order DARTS, the reference's default; it
            keeps noise fields from growing on memorised training ids) or
            `"train"` with the model on training batches. Used directly,
            `DimGrowCallback` takes the batches as `gate_data`. Defaults to
            `"validation"`.
        gate_learning_rate: float. Learning rate of the DARTS gate
            optimizer. Defaults to `1e-3`.
        final_dims: str. How the best epoch's gates give the final dims.
            `"gates"` counts a field's gates > 0.5 (the reference's rule);
            `"widths"` keeps every column the field still had, gates
            <= 0.5 included, when at least one of its gates is > 0.5, and
            drops it otherwise (the same fields as `"gates"`). Defaults to
            `"widths"`: in paired retrains (3 seeds) it gained 0.0015 to
            0.012 AUC on Frappe, MovieLens-100K and Criteo 10k for 1 to 5
            more dims (README "Results").
        final_model: str. The model `search_and_retrain` returns, always at
            the final dims: `"retrain"` a fixed-width model trained from
            scratch (the reference); `"searched"` the search model itself
            with its gates folded, no retrain (the fast path, what
            `dimgrow export search_model.keras` serves); `"best"` retrains,
            then keeps whichever of the two has the higher validation AUC.
            Defaults to `"best"`.

    Example:

    ```python
    config = dimgrow_tf.SearchConfig(alpha=0.1, budget_bytes=2**30)
    search = dimgrow_tf.DimGrowCallback(emb, config)
    ```
    """

    alpha: float = 0.02
    regularizer: str = "reference"
    low: float = GrowthRule.low
    high: float = GrowthRule.high
    max_dim: int = GrowthRule.max_dim
    budget: int = GrowthRule.budget
    budget_bytes: Optional[int] = GrowthRule.budget_bytes
    window: int = GrowthRule.window
    check_every: int = 1
    settle_checks: Optional[int] = None
    monitor: str = "val_auc"
    mode: str = "auto"
    gate_updates: str = "validation"
    gate_learning_rate: float = 1e-3
    final_dims: str = "widths"
    final_model: str = "best"

    def __post_init__(self):
        self.growth_rule()  # validates the rule's fields
        for name in ("check_every", "settle_checks"):
            value = getattr(self, name)
            if value is None and name == "settle_checks":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value!r}"
                )
        if not float(self.alpha) >= 0.0:
            raise ValueError(f"`alpha` must be >= 0. Received: alpha={self.alpha!r}")
        if not float(self.gate_learning_rate) > 0.0:
            raise ValueError(
                "`gate_learning_rate` must be > 0. "
                f"Received: gate_learning_rate={self.gate_learning_rate!r}"
            )
        if self.gate_updates not in _GATE_UPDATES:
            raise ValueError(
                f"`gate_updates` must be one of {_GATE_UPDATES}. "
                f"Received: {self.gate_updates!r}"
            )
        if self.final_dims not in _FINAL_DIMS:
            raise ValueError(
                f"`final_dims` must be one of {_FINAL_DIMS}. Received: {self.final_dims!r}"
            )
        if self.final_model not in _FINAL_MODELS:
            raise ValueError(
                f"`final_model` must be one of {_FINAL_MODELS}. "
                f"Received: {self.final_model!r}"
            )
        if self.mode not in _MODES:
            raise ValueError(f"`mode` must be one of {_MODES}. Received: {self.mode!r}")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ValueError(f"`monitor` must be a metric name. Received: {self.monitor!r}")

    def growth_rule(self) -> GrowthRule:
        """The `GrowthRule` of this config."""
        return GrowthRule(
            low=self.low, high=self.high, max_dim=self.max_dim, budget=self.budget,
            window=self.window, budget_bytes=self.budget_bytes,
        )

    @property
    def maximize(self) -> bool:
        """Whether a larger `monitor` value is better."""
        if self.mode != "auto":
            return self.mode == "max"
        return any(k in self.monitor for k in ("auc", "acc"))

    def replace(self, **changes) -> "SearchConfig":
        """A copy with `changes` applied (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes)

    def get_config(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "SearchConfig":
        return dataclass_from_config(cls, config)
