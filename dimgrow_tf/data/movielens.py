"""Loader of MovieLens 100K in the original GroupLens layout."""

import os

from dimgrow_tf.data.loader_utils import FieldError
from dimgrow_tf.data.loader_utils import iter_byte_lines
from dimgrow_tf.data.loader_utils import parse_int
from dimgrow_tf.data.movielens_utils import read_side_table
from dimgrow_tf.data.movielens_utils import split_item_row
from dimgrow_tf.data.row_loader import RowLoader
from dimgrow_tf.data.row_loader import concat_parts

MOVIELENS_FIELDS = (
    "user_id", "item_id", "age", "gender", "occupation", "zip", "genre", "year",
)
_KINDS = {"user_id": "int", "item_id": "int", "age": "int", "gender": "str",
          "occupation": "str", "zip": "str", "genre": "str", "year": "str"}


class MovieLensLoader(RowLoader):
    """Reads MovieLens 100K: `u.data` joined with `u.user` and `u.item`.

    The recipe of `shared/data/splits/README.md`:

    - `u.data`: tab-separated `user_id, item_id, rating, timestamp` (all
      ASCII integers, rating 1..5). Label = `rating >= threshold` (4).
    - `u.user` (`|`-separated `user_id|age|gender|occupation|zip`) gives
      `age` (raw int), `gender`, `occupation`, `zip` (string, kept as is).
    - `u.item` (`|`-separated, latin-1, 24 columns: id, title, release date,
      video date, URL, 19 genre flags 0/1) gives `genre` (the first flag
      equal to 1, in the `GENRES` order) and `year` (last 4 characters of
      the release date, or missing when the date is empty).
    - Left joins: a rating whose user or item has no row in the side file
      keeps its ids, its side fields are missing, and it is counted in
      `stats.notes` (`"user_not_in_u.user"`, `"item_not_in_u.item"`).
    - Empty side values (e.g. no gender) are missing. Side-file rows that
      are malformed or repeat an id follow `on_error` like ratings do.

    Fields: `user_id, item_id, age, gender, occupation, zip, genre, year`.

    Args:
        on_error: str. `"raise"` or `"skip"`. Defaults to `"raise"`.
        threshold: int. Smallest positive rating. Defaults to `4`.

    Example:

    ```python
    loader = MovieLensLoader()
    table = loader.read("shared/data/movielens_100k")   # or .../u.data
    vocab = loader.fit_vocabulary(table)
    ```
    """

    def __init__(self, on_error="raise", threshold=4):
        super().__init__(MOVIELENS_FIELDS, _KINDS, on_error=on_error)
        if isinstance(threshold, bool) or threshold not in range(1, 6):
            raise ValueError(
                f"`threshold` must be an integer rating 1..5. Received: {threshold!r}"
            )
        self.threshold = threshold
        self.users = {}
        self.items = {}
        self._side_stats = None

    def read(self, paths):
        """Reads `u.data` (a directory holding it, or its path).

        `u.user` and `u.item` are read from the same directory. Several
        paths are concatenated; each uses its own directory's side files.

        Returns:
            A `RawTable`.
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        parts = []
        for path in paths:
            path = os.fspath(path)
            data = os.path.join(path, "u.data") if os.path.isdir(path) else path
            folder = os.path.dirname(data)
            self.load_side_tables(os.path.join(folder, "u.user"),
                                  os.path.join(folder, "u.item"))
            parts.append(self._read_data(data))
        if not parts:
            raise ValueError("`paths` names no file.")
        return concat_parts(parts, self.field_names, self.kinds)

    def load_side_tables(self, user_path, item_path, user_text=None,
                         item_text=None):
        """Reads `u.user` and `u.item` (files, or their contents as text).

        `read` calls this for each `u.data` it reads; call it yourself
        before `read_text`.

        Args:
            user_path: str. `u.user` path (also its name in errors).
            item_path: str. `u.item` path (also its name in errors).
            user_text: str or None. `u.user` contents to use instead of
                reading the file. Defaults to `None`.
            item_text: str or None. `u.item` contents to use instead of
                reading the file. Defaults to `None`.

        Returns:
            A `LoadStats` of the two side files (also kept for the next
            read, whose `stats.notes` report its skipped side rows).
        """
        self.users, user_stats = read_side_table(
            user_path, _parse_user, "utf-8", self.on_error, user_text)
        self.items, item_stats = read_side_table(
            item_path, _parse_item, "latin-1", self.on_error, item_text)
        self._side_stats = user_stats.merged(item_stats)
        return self._side_stats

    def read_text(self, text, source="<u.data>"):
        """Reads `u.data` contents given as text; side tables must be loaded."""
        if not self.users and not self.items:
            raise ValueError("Call `load_side_tables` before `read_text`.")
        return super().read_text(text, source)

    def _read_data(self, path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No such file: {path!r}")
        return self._read_stream(iter_byte_lines(path), path)

    def _read_stream(self, byte_lines, source):
        labels, rows, lines, stats = super()._read_stream(byte_lines, source)
        side = self._side_stats
        if side is not None and side.skipped:
            stats.add_note("side_rows_skipped", side.skipped)
            stats.errors += side.errors[: stats.max_errors - len(stats.errors)]
        for row in rows:
            if row[0] not in self.users:
                stats.add_note("user_not_in_u.user")
            if row[1] not in self.items:
                stats.add_note("item_not_in_u.item")
        return labels, rows, lines, stats

    def parse_line(self, text):
        cells = text.split("\t")
        if len(cells) != 4:
            raise FieldError(
                f"expected 4 tab-separated columns (user_id, item_id, rating, "
                f"timestamp), found {len(cells)}",
                kind="columns",
            )
        user = str(parse_int(cells[0], "user_id"))
        item = str(parse_int(cells[1], "item_id"))
        rating = parse_int(cells[2], "rating")
        if not 1 <= rating <= 5:
            raise FieldError("rating must be an integer 1..5", "rating",
                             cells[2], kind="label")
        parse_int(cells[3], "timestamp")
        age, gender, occupation, zip_code = self.users.get(
            user, (None, None, None, None))
        genre, year = self.items.get(item, (None, None))
        label = int(rating >= self.threshold)
        return label, [user, item, age, gender, occupation, zip_code, genre, year]


def _parse_user(text):
    cells = text.split("|")
    if len(cells) != 5:
        raise FieldError(
            f"expected 5 |-separated columns (user_id|age|gender|occupation|"
            f"zip), found {len(cells)}",
            kind="columns",
        )
    user = str(parse_int(cells[0], "user_id"))
    age = str(parse_int(cells[1], "age")) if cells[1] else None
    return user, tuple([age] + [c if c else None for c in cells[2:]])


def _parse_item(text):
    item, cells, genres = split_item_row(text)
    genre = genres[0] if genres else None
    date = cells[2]
    year = date[-4:] if date else None
    return item, (genre, year)
