"""Loader of libFM one-hot files such as the Frappe CTR splits."""

import re

from dimgrow_tf.data.loader_utils import FieldError
from dimgrow_tf.data.loader_utils import parse_int
from dimgrow_tf.data.row_loader import RowLoader

FRAPPE_FIELDS = (
    "user", "item", "daytime", "weekday", "isweekend", "homework", "cost",
    "weather", "country", "city",
)
_SEPARATORS = re.compile(r"[ \t]+")
_ONE = re.compile(r"\+?1(\.0*)?")
LABELS = {"1": 1, "+1": 1, "0": 0, "-1": 0}


class FrappeLoader(RowLoader):
    """Reads libFM one-hot rows: `label idx:1 idx:1 ...`, field by position.

    Each line is a label then exactly one `index:value` token per field,
    separated by spaces or tabs (plain or gzip; CRLF is fine). The k-th
    token belongs to the k-th field and its value is the global feature
    index (a non-negative int), as in `shared/data/splits/README.md`.

    - Label: `1`/`+1` -> 1, `-1`/`0` -> 0; anything else is malformed.
    - Token: `index:value` with an ASCII integer index >= 0 and value 1
      (`1`, `+1`, `1.0`; the format is one-hot); anything else, or the
      wrong number of tokens, is malformed.

    Missing values cannot occur (a row must list every field).

    Args:
        field_names: list of str. One name per token position. Defaults to
            the 10 Frappe fields `user, item, daytime, weekday, isweekend,
            homework, cost, weather, country, city`.
        on_error: str. `"raise"` or `"skip"`. Defaults to `"raise"`.

    Example:

    ```python
    loader = FrappeLoader()
    train = loader.read("frappe_nfm.validation.libfm.gz")
    vocab = loader.fit_vocabulary(train)
    test_x, test_y = loader.read("frappe_nfm.test.libfm.gz").encode(vocab)
    ```
    """

    def __init__(self, field_names=FRAPPE_FIELDS, on_error="raise"):
        field_names = list(field_names)
        super().__init__(field_names, {n: "int" for n in field_names},
                         on_error=on_error)

    def parse_line(self, text):
        tokens = _SEPARATORS.split(text.strip(" \t"))
        expected = 1 + len(self.field_names)
        if len(tokens) != expected:
            raise FieldError(
                f"expected a label and {len(self.field_names)} index:value "
                f"tokens ({expected} in all), found {len(tokens)}",
                kind="columns",
            )
        label = LABELS.get(tokens[0])
        if label is None:
            raise FieldError("label must be 1, +1, 0 or -1", "label",
                             tokens[0], kind="label")
        values = []
        for name, token in zip(self.field_names, tokens[1:]):
            index, sep, value = token.partition(":")
            if not sep:
                raise FieldError("expected index:value", name, token,
                                 kind="value")
            if value != "1" and not _ONE.fullmatch(value):
                raise FieldError("feature value must be 1 (one-hot)", name,
                                 token, kind="value")
            if not (index.isascii() and index.isdigit()):
                raise FieldError("index must be a non-negative integer", name,
                                 token, kind="integer")
            values.append(str(parse_int(index, name)))
        return label, values
