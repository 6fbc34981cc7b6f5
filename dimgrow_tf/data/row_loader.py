"""Base class of the line-by-line raw-file loaders, and their `RawTable`."""

import codecs
import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from dimgrow_tf.data.load_stats import LoadStats
from dimgrow_tf.data.loader_utils import FieldError
from dimgrow_tf.data.loader_utils import check_on_error
from dimgrow_tf.data.loader_utils import decode_line
from dimgrow_tf.data.loader_utils import iter_byte_lines
from dimgrow_tf.data.loader_utils import iter_text_byte_lines
from dimgrow_tf.data.vocabulary import KINDS
from dimgrow_tf.data.vocabulary import Vocabulary
from dimgrow_tf.field_config import PAD_ID
from dimgrow_tf.field_config import FieldConfig


@dataclasses.dataclass
class RawTable:
    """Parsed rows before encoding: labels and per-field raw values.

    Args:
        labels: float32 array of 0/1 labels, one per kept row.
        columns: dict. Field name -> object array of canonical string
            values (`None` = missing; a `"list"` field: tuples of strings),
            one per kept row.
        kinds: dict. Field name -> `"int"`, `"str"`, `"list"` or `"text"`.
        line_numbers: int64 array. 1-based line of each row in its file.
        stats: LoadStats. Counts of the read.
    """

    labels: np.ndarray
    columns: Dict[str, np.ndarray]
    kinds: Dict[str, str]
    line_numbers: np.ndarray
    stats: LoadStats

    def __len__(self):
        return len(self.labels)

    def take(self, indices):
        """The rows at `indices`, with row-level stats recomputed.

        The new table's `stats` counts its rows, positives and missing
        values; file-level counts (lines, skipped rows) stay with `self`.
        """
        indices = np.asarray(indices, dtype=np.int64)
        columns = {n: c[indices] for n, c in self.columns.items()}
        labels = self.labels[indices]
        stats = LoadStats(sources=list(self.stats.sources))
        stats.rows = len(labels)
        stats.positives = int(labels.sum())
        stats.missing = count_missing(columns)
        return RawTable(labels, columns, dict(self.kinds),
                        self.line_numbers[indices], stats)

    def encode(self, vocabulary, fields=()):
        """Maps values to ids; fills `stats.oov`.

        Args:
            vocabulary: Vocabulary. Usually fitted on the training table.
            fields: FieldConfigs. A multi-valent field with `max_len` gets
                `(rows, max_len)` ids: the first `max_len` ids of each row,
                the others counted in `stats.notes` (`<field>:cut`).
                Defaults to `()`.

        Returns:
            `(features, labels)`: dict field -> int32 ids, float32 labels.
        """
        features, oov = vocabulary.encode(self.columns)
        self.stats.oov = oov
        for f in fields:
            if f.multivalent and f.max_len is not None:
                ids = features[f.name]
                cut = int(np.count_nonzero(ids[:, f.max_len:] != PAD_ID))
                if cut:
                    self.stats.add_note(f"{f.name}:cut", cut)
                ids = ids[:, :f.max_len]
                features[f.name] = np.pad(ids, ((0, 0), (0, f.max_len - ids.shape[1])),
                                          constant_values=PAD_ID)
        return features, self.labels


class RowLoader:
    """Reads a raw text file row by row under a bad-input policy.

    Subclasses define the fields and `parse_line`. Each physical line is
    one row; empty lines are ignored and counted (`stats.blank_lines`).
    Files may be gzip-compressed (detected from the content). A malformed
    row raises a `MalformedRowError` (a `ValueError`) naming the file, the
    1-based line and the field, or, with `on_error="skip"`, is skipped and
    counted in the table's `stats`.

    Args:
        field_names: list of str. Field names in order.
        kinds: dict. Field name -> `"int"`, `"str"`, `"list"` or `"text"`.
        on_error: str. `"raise"` or `"skip"`. Defaults to `"raise"`.
        encoding: str. Text encoding of the files. Defaults to `"utf-8"`.
        header: bool. Whether each file starts with a header line, passed
            to `read_header`. Defaults to `False`.
    """

    def __init__(self, field_names, kinds, on_error="raise", encoding="utf-8",
                 header=False):
        self.field_names = list(field_names)
        if len(set(self.field_names)) != len(self.field_names):
            raise ValueError(f"Duplicate field names: {self.field_names}")
        for name in self.field_names:
            FieldConfig(name, 1)
            if kinds.get(name) not in KINDS:
                raise ValueError(f"Field {name!r}: kind must be one of {KINDS}")
        self.kinds = {n: kinds[n] for n in self.field_names}
        self.on_error = check_on_error(on_error)
        self.encoding = codecs.lookup(encoding).name
        self.header = bool(header)

    def parse_line(self, text: str) -> Tuple[int, List[Optional[str]]]:
        """Parses one non-empty line into `(label, values)`.

        Args:
            text: str. The decoded line without its line ending.

        Returns:
            `(label, values)`: label 0 or 1, and one canonical string or
            `None` (missing) per field, in `field_names` order.

        Raises:
            FieldError: the row is malformed.
        """
        raise NotImplementedError

    def read_header(self, text: str) -> None:
        """Checks a header line (only called when `header=True`)."""
        raise NotImplementedError

    def read(self, paths) -> RawTable:
        """Reads one file or a list of files, concatenated in order.

        Args:
            paths: str, path-like, or a list of them.

        Returns:
            A `RawTable` whose `stats` covers every file.
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        parts = []
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"No such file: {os.fspath(path)!r}")
            parts.append(self._read_stream(iter_byte_lines(path), os.fspath(path)))
        if not parts:
            raise ValueError("`paths` names no file.")
        return concat_parts(parts, self.field_names, self.kinds)

    def read_text(self, text, source="<text>") -> RawTable:
        """Reads the contents of a file given as a string (for tests/demos)."""
        parts = [self._read_stream(iter_text_byte_lines(text, self.encoding),
                                   source)]
        return concat_parts(parts, self.field_names, self.kinds)

    def fit_vocabulary(self, table, min_count=1) -> Vocabulary:
        """Learns a `Vocabulary` from a training `RawTable`."""
        return Vocabulary.fit(table.columns, table.kinds, min_count=min_count)

    def field_configs(self, vocabulary) -> List[FieldConfig]:
        """The `FieldConfig`s (width 1) of the loaded fields."""
        return vocabulary.fields()

    def _read_stream(self, byte_lines, source):
        stats = LoadStats(sources=[source])
        labels, rows, line_numbers = [], [], []
        need_header = self.header
        for line_no, raw in enumerate(byte_lines, start=1):
            stats.lines += 1
            if not raw:
                stats.blank_lines += 1
                continue
            in_header, need_header = need_header, False
            try:
                text = decode_line(raw, self.encoding)
                if in_header:
                    self.read_header(text)
                    continue
                label, values = self.parse_line(text)
            except FieldError as err:
                error = err.at(source, line_no)
                if self.on_error == "raise" or in_header:
                    raise error from None
                stats.record_skip(error)
                continue
            labels.append(label)
            rows.append(values)
            line_numbers.append(line_no)
        if need_header:
            raise FieldError("no header line (the file is empty)",
                             kind="header").at(source, max(stats.lines, 1))
        return labels, rows, line_numbers, stats


def concat_parts(parts, field_names, kinds):
    """Builds one `RawTable` from `_read_stream` results."""
    labels, rows, line_numbers = [], [], []
    stats = None
    for part_labels, part_rows, part_lines, part_stats in parts:
        labels += part_labels
        rows += part_rows
        line_numbers += part_lines
        stats = part_stats if stats is None else stats.merged(part_stats)
    columns = {}
    for j, name in enumerate(field_names):
        column = np.empty(len(rows), dtype=object)
        if kinds[name] == "list":
            for i, r in enumerate(rows):       # tuples stay one element each
                column[i] = r[j]
        else:
            column[:] = [r[j] for r in rows]
        columns[name] = column
    labels = np.asarray(labels, dtype=np.float32).reshape(-1)
    stats.rows = len(labels)
    stats.positives = int(labels.sum())
    stats.missing = count_missing(columns)
    return RawTable(labels, columns, dict(kinds),
                    np.asarray(line_numbers, dtype=np.int64).reshape(-1), stats)


def count_missing(columns):
    """Number of `None` values per column."""
    return {n: sum(1 for v in c if v is None) for n, c in columns.items()}
