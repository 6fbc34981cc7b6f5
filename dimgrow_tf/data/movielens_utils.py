"""Helpers of `MovieLensLoader`: the side tables `u.user` and `u.item`."""

import os

from dimgrow_tf.data.load_stats import LoadStats
from dimgrow_tf.data.loader_utils import FieldError
from dimgrow_tf.data.loader_utils import check_on_error
from dimgrow_tf.data.loader_utils import decode_line
from dimgrow_tf.data.loader_utils import iter_byte_lines
from dimgrow_tf.data.loader_utils import iter_text_byte_lines

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)


def read_side_table(path, parse, encoding, on_error, text=None):
    """Reads a `|`-separated side file into `{id: values}`.

    Args:
        path: str. The file (also the name used in error messages).
        parse: callable. `parse(line) -> (id, values)`; raises `FieldError`.
        encoding: str. Text encoding of the file.
        on_error: str. `"raise"` or `"skip"` (malformed rows and repeated
            ids).
        text: str or None. The file's contents, instead of reading `path`.
            Defaults to `None`.

    Returns:
        `(table, stats)`: the dict and a `LoadStats` of the read.
    """
    check_on_error(on_error)
    path = os.fspath(path)
    if text is None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No such file: {path!r}")
        lines = iter_byte_lines(path)
    else:
        lines = iter_text_byte_lines(text, encoding)
    table, stats = {}, LoadStats(sources=[path])
    for line_no, raw in enumerate(lines, start=1):
        stats.lines += 1
        if not raw:
            stats.blank_lines += 1
            continue
        try:
            key, values = parse(decode_line(raw, encoding))
            if key in table:
                raise FieldError("id already listed above", "id", key,
                                 kind="duplicate")
        except FieldError as err:
            error = err.at(path, line_no)
            if on_error == "raise":
                raise error from None
            stats.record_skip(error)
            continue
        table[key] = values
        stats.rows += 1
    return table, stats
