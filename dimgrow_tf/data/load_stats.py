"""Counts kept while reading raw files: rows, skips, missing values, OOV."""

import collections
import dataclasses
from typing import Dict, List


@dataclasses.dataclass
class LoadStats:
    """What a loader read, kept, skipped, found missing and mapped to OOV.

    A loader returns one `LoadStats` with each table it reads; encoding the
    table with a `Vocabulary` fills `oov`. Nothing is dropped or replaced
    without being counted here.

    Args:
        sources: list of str. Files (or labels) read, in order.
        lines: int. Physical lines read, header and blank lines included.
        rows: int. Rows kept.
        positives: int. Kept rows with label 1.
        blank_lines: int. Empty lines (ignored, never rows).
        skipped: int. Malformed rows skipped under `on_error="skip"`.
        skip_reasons: dict. Skipped rows per category (`"columns"`,
            `"label"`, `"integer"`, `"encoding"`, ...).
        errors: list of str. The first `max_errors` skip messages, each
            naming file, line and field.
        missing: dict. Missing values per field among kept rows (they map
            to the missing id).
        oov: dict. Values per field mapped to the OOV id by the vocabulary
            (unseen in training, or rarer than `min_count`).
        notes: dict. Format-specific counts (e.g. MovieLens ratings whose
            user is not in `u.user`).
        max_errors: int. How many messages `errors` keeps. Defaults to `20`.

    Example:

    ```python
    table = CriteoLoader(on_error="skip").read("train.txt.gz")
    print(table.stats.summary())
    ```
    """

    sources: List[str] = dataclasses.field(default_factory=list)
    lines: int = 0
    rows: int = 0
    positives: int = 0
    blank_lines: int = 0
    skipped: int = 0
    skip_reasons: Dict[str, int] = dataclasses.field(default_factory=dict)
    errors: List[str] = dataclasses.field(default_factory=list)
    missing: Dict[str, int] = dataclasses.field(default_factory=dict)
    oov: Dict[str, int] = dataclasses.field(default_factory=dict)
    notes: Dict[str, int] = dataclasses.field(default_factory=dict)
    max_errors: int = 20

    def record_skip(self, error):
        """Counts one skipped row for `error` (a `MalformedRowError`)."""
        self.skipped += 1
        self.skip_reasons[error.kind] = self.skip_reasons.get(error.kind, 0) + 1
        if len(self.errors) < self.max_errors:
            self.errors.append(str(error))

    def add_note(self, key, count=1):
        """Adds `count` to the format-specific counter `key`."""
        self.notes[key] = self.notes.get(key, 0) + count

    @property
    def positive_rate(self):
        """Share of kept rows with label 1 (0.0 when no rows)."""
        return self.positives / self.rows if self.rows else 0.0

    def merged(self, other):
        """Returns the sum of this and `other` (e.g. two files read apart)."""
        out = LoadStats(max_errors=self.max_errors)
        out.sources = self.sources + other.sources
        for name in ("lines", "rows", "positives", "blank_lines", "skipped"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        for name in ("skip_reasons", "missing", "oov", "notes"):
            total = collections.Counter(getattr(self, name))
            total.update(getattr(other, name))
            setattr(out, name, dict(total))
        out.errors = (self.errors + other.errors)[: self.max_errors]
        return out

    def to_dict(self):
        """A JSON-ready dict of every count."""
        out = dataclasses.asdict(self)
        out["positive_rate"] = self.positive_rate
        return out

    def summary(self):
        """A short human-readable report."""
        text = (
            f"{self.rows:,} rows ({self.positive_rate:.2%} positive) from "
            f"{', '.join(self.sources) or '-'}; {self.skipped:,} skipped"
        )
        if self.skip_reasons:
            text += " " + str(dict(sorted(self.skip_reasons.items())))
        missing = sum(self.missing.values())
        oov = sum(self.oov.values())
        return text + f"; {missing:,} missing and {oov:,} OOV values"
