"""The outcome of a DimGrow search, JSON-serialisable."""

import dataclasses
import json
from typing import Any, Dict, List, Optional

import numpy as np

from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.io_utils import write_json_atomic

FINAL_GATE_THRESHOLD = 0.5


@dataclasses.dataclass
class SearchResult:
    """Final per-field dims of a search, with how they were reached.

    Args:
        fields: list of FieldConfig; `dim` is the final width (0 = dropped).
        gates: dict `{name: list of float}`, the gates the final dims were
            read from (the snapshot at the best monitored epoch).
        history: list of dict, one per resize event (`step`, `epoch`,
            `field`, `action`, `from`, `to`, `dropped`, `gates`).
        best_epoch: int or None. Epoch (0-based) of the snapshot.
        monitor: str or None. The metric that picked the snapshot.
        best_value: float or None. Its value there.
        searched_dims: dict `{name: int}`, the widths the layer had at the
            snapshot (the final dims count only gates > 0.5 of these).
        settings: dict. The run's settings (alpha, batch size, epochs,
            seed, growth rule, ...), as recorded by `run_search` or the
            CLI; `dimgrow retrain` reuses them. Defaults to `{}`.
        timings: dict. Wall time and counts of the run (`seconds`,
            `epochs`, `steps`, `resizes`). Defaults to `{}`.

    Example:

    ```python
    result = callback.result()
    result.dims                  # {"user_id": 5, "gender": 0, ...}
    SearchResult.from_json(result.to_json()) == result
    ```
    """

    fields: List[FieldConfig]
    gates: Dict[str, List[float]] = dataclasses.field(default_factory=dict)
    history: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    best_epoch: Optional[int] = None
    monitor: Optional[str] = None
    best_value: Optional[float] = None
    searched_dims: Dict[str, int] = dataclasses.field(default_factory=dict)
    settings: Dict[str, Any] = dataclasses.field(default_factory=dict)
    timings: Dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_gates(cls, fields, gates, final_dims="gates", **kwargs):
        """Final dims from the gates of `fields` (at their searched widths).

        `final_dims="gates"` counts each field's gates > 0.5; `"widths"`
        keeps a field's searched width when one of its gates is > 0.5 and
        drops the field otherwise (see `SearchConfig.final_dims`).
        """
        final = []
        for f in fields:
            above = int(np.sum(np.asarray(gates.get(f.name, [])) > FINAL_GATE_THRESHOLD))
            final.append(f.with_dim(f.dim if above and final_dims == "widths" else above))
        return cls(
            fields=final,
            gates={k: [float(x) for x in v] for k, v in gates.items()},
            searched_dims={f.name: f.dim for f in fields},
            **kwargs,
        )

    @property
    def dims(self) -> Dict[str, int]:
        return {f.name: f.dim for f in self.fields}

    @property
    def total_dims(self) -> int:
        return sum(self.dims.values())

    @property
    def embedding_params(self) -> int:
        return sum(f.vocab_size * f.dim for f in self.fields)

    def get_config(self) -> Dict[str, Any]:
        config = dataclasses.asdict(self)
        config["fields"] = [f.get_config() for f in self.fields]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["fields"] = [FieldConfig.from_config(f) for f in config["fields"]]
        return cls(**config)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.get_config(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "SearchResult":
        return cls.from_config(json.loads(text))

    def save(self, path) -> None:
        """Writes the JSON atomically (temporary file, then rename)."""
        write_json_atomic(path, self.get_config(), indent=1)

    @classmethod
    def load(cls, path) -> "SearchResult":
        with open(path) as fh:
            return cls.from_json(fh.read())
