"""Helpers of `MovieLensLoader`: the side tables `u.user` and `u.item`, and
the item lists (genres, title) added to the shared MovieLens splits."""

import os
import re

from dimgrow_tf.data.load_stats import LoadStats
from dimgrow_tf.data.loader_utils import FieldError
from dimgrow_tf.data.loader_utils import check_on_error
from dimgrow_tf.data.loader_utils import decode_line
from dimgrow_tf.data.loader_utils import iter_byte_lines
from dimgrow_tf.data.loader_utils import iter_text_byte_lines
from dimgrow_tf.data.loader_utils import parse_int

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


_YEAR = re.compile(r"\s*\(\d{4}\)")


def parse_item_lists(text):
    """`u.item` line -> `(item, (genre names, title))` for `read_side_table`.

    The genres are every flag equal to 1, in `GENRES` order; the title has
    its release year(s) `" (1995)"` removed (the `year` field holds it).
    """
    item, cells, genres = split_item_row(text)
    return item, (tuple(genres), _YEAR.sub("", cells[1]).strip())


def split_item_row(text):
    """A checked `u.item` line -> `(item id, cells, names of the genres set)`."""
    cells = text.split("|")
    if len(cells) != 5 + len(GENRES):
        raise FieldError(
            f"expected {5 + len(GENRES)} |-separated columns, found {len(cells)}",
            kind="columns",
        )
    item = str(parse_int(cells[0], "item_id"))
    genres = []
    for name, flag in zip(GENRES, cells[5:]):
        if flag not in ("0", "1"):
            raise FieldError("genre flag must be 0 or 1", f"genre:{name}", flag,
                             kind="value")
        if flag == "1":
            genres.append(name)
    return item, cells, genres


def add_item_lists(fields, splits, movielens_dir, title_vocabulary_size=1000):
    """Adds `genres` (multi-valent) and `title` (text) to MovieLens splits.

    The shared splits (`shared/data/splits/movielens_100k`) encode
    `item_id` as the rank of the raw item id among all items of `u.data`;
    this maps each row back to its `u.item` line. The two columns go
    through the CSV path's encoders (`ListColumn` / `TextColumn` and the
    `Vocabulary`'s `"list"` and `"text"` kinds): `genres` lists every genre
    of the item (ids `2 + GENRES.index(name)`, padded with -1; none: the
    missing list `[1]`); `title` holds the title's WordPiece token ids from
    a tokenizer fitted offline on the titles of the `train` rows (one per
    rating, so a word piece enters the vocabulary when training rows use it
    often).

    Args:
        fields: list of FieldConfig of the splits (with `item_id`).
        splits: dict `{split: (features, labels)}` (`load_split_dir`).
        movielens_dir: str. Folder with `u.data` and `u.item`.
        title_vocabulary_size: int. WordPiece vocabulary size. Defaults to
            `1000`.

    Returns:
        `(fields, splits, tokenizer)`: the fields with `genres` (combiner
        `"mean"`) and `title` (`"mean"`) appended, new splits, and the
        title tokenizer (pass it to `export_saved_model(tokenizers=...)`).
    """
    import numpy as np

    from dimgrow_tf.data.text_column import TextColumn
    from dimgrow_tf.data.vocabulary import Vocabulary

    items, _ = read_side_table(os.path.join(movielens_dir, "u.item"), parse_item_lists,
                               "latin-1", "raise")
    raw = np.loadtxt(os.path.join(movielens_dir, "u.data"), dtype=np.int64, usecols=1)
    order = [str(i) for i in np.unique(raw)]         # split id -> raw item id
    missing = [i for i in order if i not in items]
    if missing:
        raise ValueError(f"Items {missing[:5]} of u.data are not in u.item.")
    titles = [items[i][1] for i in order]
    train_items = np.asarray(splits["train"][0]["item_id"])
    title = TextColumn("title", vocabulary_size=title_vocabulary_size)
    vocab = Vocabulary({"genres": list(GENRES), "title": title.fit(
        [titles[k] for k in train_items])}, kinds={"genres": "list", "title": "text"})
    per_item, _ = vocab.encode({"genres": [items[i][0] or None for i in order],
                                "title": titles})
    out = {}
    for name, (features, labels) in splits.items():
        index = np.asarray(features["item_id"])
        out[name] = (dict(features, **{k: v[index] for k, v in per_item.items()}), labels)
    return list(fields) + vocab.fields(), out, vocab.tokenizer("title")
