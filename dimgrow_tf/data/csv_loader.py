"""Loader of any CSV table described by a `CsvSchema`."""

import csv

from dimgrow_tf.data.csv_schema import CsvSchema
from dimgrow_tf.data.loader_utils import FieldError
from dimgrow_tf.data.loader_utils import log_squared
from dimgrow_tf.data.loader_utils import parse_int
from dimgrow_tf.data.row_loader import RowLoader


class CsvLoader(RowLoader):
    """Reads a delimited text table whose columns a `CsvSchema` describes.

    Cells are split with Python's `csv` module (strict mode, standard `"`
    quoting), one record per line; a line holding a NUL character is
    malformed (as in Python 3.10's `csv`). For every row:

    - the number of cells must equal the number of columns;
    - the label cell must be in `schema.positive` (1) or `schema.negative`
      (0);
    - a field cell in `schema.missing` is missing;
    - an integer cell must be an ASCII integer in the int64 range,
      optionally discretised (`schema.discretise`);
    - a categorical cell is kept verbatim;
    - a `ListColumn` cell is split at its separator into a tuple of values
      (a missing cell is missing: the list `[1]`); a `TextColumn` cell is
      kept verbatim and tokenized when encoded.

    Anything else is malformed and raises a `MalformedRowError` naming
    file, line and column, or is skipped and counted (`on_error="skip"`).
    A bad or missing header always raises.

    Args:
        schema: CsvSchema or dict. The table's schema (a dict goes through
            `CsvSchema.from_config`).
        on_error: str. `"raise"` or `"skip"`. Defaults to `"raise"`.

    Example:

    ```python
    schema = CsvSchema(label="click", categorical=("user", "ad"),
                       integer=("count",), discretise=True)
    table = CsvLoader(schema).read("train.csv")
    vocab = Vocabulary.fit(table.columns, table.kinds, min_count=2)
    ```
    """

    def __init__(self, schema, on_error="raise"):
        if isinstance(schema, dict):
            schema = CsvSchema.from_config(schema)
        if not isinstance(schema, CsvSchema):
            raise TypeError(f"`schema` must be a CsvSchema. Received: {schema!r}")
        super().__init__(schema.field_names, schema.kinds, on_error=on_error,
                         encoding=schema.encoding, header=schema.header)
        self.schema = schema
        self._positive = set(schema.positive)
        self._negative = set(schema.negative)
        self._missing = set(schema.missing)
        self._discretise = set(schema.discretise)
        self._integer = set(schema.integer)
        self._lists = {c.name: c for c in schema.multivalent if c.kind == "list"}
        if schema.columns is not None:
            self._set_columns(schema.columns)

    def fit_vocabulary(self, table, min_count=1):
        """Learns a `Vocabulary` that records `schema.missing` and
        `schema.discretise`, so serving maps raw cells as loading does."""
        from dimgrow_tf.data.vocabulary import Vocabulary

        texts = {c.name: c for c in self.schema.multivalent if c.kind == "text"}
        kinds = {n: k for n, k in table.kinds.items() if n not in texts}
        fitted = Vocabulary.fit({n: table.columns[n] for n in kinds}, kinds,
                                min_count=min_count, missing=self.schema.missing,
                                discretise=self.schema.discretise)
        if not texts:
            return fitted
        missing = set(self.schema.missing)
        values = {n: texts[n].fit([t for t in table.columns[n] if t not in missing])
                  if n in texts else fitted.values(n) for n in self.field_names}
        return Vocabulary(values, table.kinds, min_count, self.schema.missing,
                          self.schema.discretise)

    def field_configs(self, vocabulary):
        """The fields (width 1), with the combiner and `max_len` of each
        multivalent column (a text column's `max_len` is its tokenizer's)."""
        return vocabulary.fields(combiners={
            c.name: (c.combiner, c.max_len if c.kind == "list" else None)
            for c in self.schema.multivalent})

    def read_header(self, text):
        header = self._split(text)
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise FieldError(f"header repeats columns {dupes}", kind="header")
        if self.schema.columns is not None and tuple(header) != self.schema.columns:
            raise FieldError(
                f"header {header} differs from schema columns "
                f"{list(self.schema.columns)}",
                kind="header",
            )
        wanted = (self.schema.label,) + self.schema.field_names
        absent = [c for c in wanted if c not in header]
        if absent:
            raise FieldError(f"header lacks columns {absent}", kind="header")
        self._set_columns(header)

    def parse_line(self, text):
        cells = self._split(text)
        if len(cells) != self._width:
            raise FieldError(
                f"expected {self._width} columns separated by "
                f"{self.schema.delimiter!r}, found {len(cells)}",
                kind="columns",
            )
        label_cell = cells[self._label_index]
        if label_cell in self._positive:
            label = 1
        elif label_cell in self._negative:
            label = 0
        else:
            raise FieldError(
                f"label must be one of {sorted(self._positive | self._negative)}",
                self.schema.label, label_cell, kind="label",
            )
        values = []
        for name, index in zip(self.field_names, self._field_indices):
            cell = cells[index]
            if cell in self._missing:
                values.append(None)
            elif name in self._lists:
                values.append(self._lists[name].split(cell))
            elif name in self._integer:
                value = parse_int(cell, name)
                if name in self._discretise:
                    value = log_squared(value)
                values.append(str(value))
            else:
                values.append(cell)
        return label, values

    def _set_columns(self, columns):
        columns = list(columns)
        self._width = len(columns)
        self._label_index = columns.index(self.schema.label)
        self._field_indices = [columns.index(n) for n in self.field_names]

    def _split(self, text):
        if "\x00" in text:
            raise FieldError("line contains a NUL character", kind="quoting")
        try:
            rows = list(csv.reader([text], delimiter=self.schema.delimiter,
                                   strict=True))
        except csv.Error as err:
            raise FieldError(f"bad CSV quoting or cell: {err}",
                             kind="quoting") from None
        if len(rows) != 1:
            raise FieldError(f"line splits into {len(rows)} CSV records",
                             kind="quoting")
        return rows[0]
