"""Loader of Criteo Display Advertising TSV files."""

from dimgrow_tf.data.loader_utils import FieldError
from dimgrow_tf.data.loader_utils import log_squared
from dimgrow_tf.data.loader_utils import parse_int
from dimgrow_tf.data.row_loader import RowLoader

INTEGER_FIELDS = tuple(f"I{i}" for i in range(1, 14))
CATEGORICAL_FIELDS = tuple(f"C{i}" for i in range(1, 27))
CRITEO_FIELDS = INTEGER_FIELDS + CATEGORICAL_FIELDS


class CriteoLoader(RowLoader):
    """Reads Criteo Kaggle/Terabyte-style TSV: label, I1..I13, C1..C26.

    Each line has 40 tab-separated columns and no header (plain or gzip):

    - `label`: `0` or `1`; anything else is malformed.
    - `I1..I13`: empty = missing; else an ASCII integer (optional sign) in
      the int64 range, discretised as `floor(ln(v)**2)` if `v > 2`, else
      kept (so 2, 1, 0, -1, -2 stay). The field's value is the resulting
      int; a non-integer is malformed.
    - `C1..C26`: empty = missing; else the string as written (normally 8
      hex characters).

    This is the recipe of `shared/data/splits/README.md`: fitted on a whole
    file with `min_count=1`, each field's vocabulary has exactly the values
    of that recipe, in the same order, after the ids 0 (OOV) and 1
    (missing). Fields are `I1..I13, C1..C26` (39).

    Args:
        on_error: str. `"raise"` (default) raises a `MalformedRowError`
            naming file, line and field; `"skip"` skips the row and counts
            it in `stats`. Defaults to `"raise"`.
        discretise: bool. Apply the log-squared discretisation to the
            integer fields. Defaults to `True`.

    Example:

    ```python
    loader = CriteoLoader(on_error="skip")
    table = loader.read("criteo_kaggle_train_first10k.txt.gz")
    vocab = loader.fit_vocabulary(table, min_count=1)
    features, labels = table.encode(vocab)   # {"I1": int32[10000], ...}
    fields = vocab.fields()                  # 39 FieldConfigs
    ```
    """

    def __init__(self, on_error="raise", discretise=True):
        kinds = {n: "int" for n in INTEGER_FIELDS}
        kinds.update({n: "str" for n in CATEGORICAL_FIELDS})
        super().__init__(CRITEO_FIELDS, kinds, on_error=on_error)
        self.discretise = bool(discretise)

    def fit_vocabulary(self, table, min_count=1):
        """Learns a `Vocabulary` that records the discretised fields, so
        serving discretises raw integers as loading does."""
        from dimgrow_tf.data.vocabulary import Vocabulary

        return Vocabulary.fit(
            table.columns, table.kinds, min_count=min_count,
            discretise=INTEGER_FIELDS if self.discretise else ())

    def parse_line(self, text):
        cells = text.split("\t")
        if len(cells) != 1 + len(CRITEO_FIELDS):
            raise FieldError(
                f"expected {1 + len(CRITEO_FIELDS)} tab-separated columns, "
                f"found {len(cells)}",
                kind="columns",
            )
        label = cells[0]
        if label not in ("0", "1"):
            raise FieldError("label must be 0 or 1", "label", label,
                             kind="label")
        values = []
        for name, cell in zip(INTEGER_FIELDS, cells[1:14]):
            if cell == "":
                values.append(None)
                continue
            value = parse_int(cell, name)
            values.append(str(log_squared(value) if self.discretise else value))
        values += [cell if cell != "" else None for cell in cells[14:]]
        return int(label), values
