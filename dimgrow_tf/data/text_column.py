"""A CSV column holding a text per row, tokenized into a multi-valent field."""

import dataclasses
from typing import Optional

from dimgrow_tf.data import column_utils as cu

TOKENIZERS = ("wordpiece", "bytes")


@dataclasses.dataclass(frozen=True)
class TextColumn:
    """A column whose cells are texts (e.g. a title), tokenized in the graph.

    The field's ids are its tokens, from a `TextTokenizer` (keras-hub, the
    `text` extra): WordPiece with a vocabulary computed offline on the
    training rows' texts (`compute_word_piece_vocabulary`, no download),
    or UTF-8 bytes (core TensorFlow ops only, so any TF Serving binary
    serves it). The tokenizer's config (vocabulary included) is kept in the
    `Vocabulary` (kind `"text"`), so loading, evaluation and the export's
    serving graph tokenize with one rule. A missing cell or a text without
    tokens is the list `[1]` (missing); an unknown word piece is 0 (OOV).

    Args:
        name: str. Column and field name.
        tokenizer: str. `"wordpiece"` or `"bytes"`. Defaults to
            `"wordpiece"`.
        vocabulary_size: int. WordPiece vocabulary size, the two reserved
            tokens included (ignored for `"bytes"`: 258 ids). Defaults to
            `1000`.
        combiner: str. `"mean"`, `"sum"` or `"sqrtn"`. Defaults to
            `"mean"`.
        max_len: int or None. Keep the first `max_len` tokens of a text.
            Defaults to `None` (all).

    Example:

    ```python
    title = TextColumn("title", tokenizer="wordpiece", vocabulary_size=500)
    config = title.fit(["Toy Story", "GoldenEye"])   # tokenizer config
    ```
    """

    name: str
    tokenizer: str = "wordpiece"
    vocabulary_size: int = 1000
    combiner: str = "mean"
    max_len: Optional[int] = None

    kind = "text"

    def __post_init__(self):
        cu.check_common(self)
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(
                f"Column {self.name!r}: `tokenizer` must be one of {TOKENIZERS}. "
                f"Received: tokenizer={self.tokenizer!r}"
            )
        cu.check_positive_int(self.name, "vocabulary_size", self.vocabulary_size,
                              minimum=3)

    def fit(self, texts):
        """The tokenizer config for the `Vocabulary`, learned from `texts`.

        Args:
            texts: sequence of str or None (the training rows; `None` and
                empty texts are skipped).

        Returns:
            dict `{"vocabulary", "lowercase", "max_len"}` (`vocabulary`
            is None for bytes), the arguments of `TextTokenizer`.
        """
        from dimgrow_tf.layers.text_tokenizer import TextTokenizer

        if self.tokenizer == "bytes":
            tokenizer = TextTokenizer(max_len=self.max_len)
        else:
            texts = [t for t in texts if t]
            if not texts:
                raise ValueError(f"Column {self.name!r}: the training rows hold no "
                                 "text to learn a WordPiece vocabulary from.")
            tokenizer = TextTokenizer.fit(texts, self.vocabulary_size, max_len=self.max_len)
        return cu.tokenizer_config(tokenizer)

    def get_config(self):
        """A JSON-ready dict with `kind: "text"`; `from_config` inverts it."""
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_config(cls, config):
        """Builds a column from `get_config()` output (or a JSON dict)."""
        return cls(**cu.strip_kind(cls, config))
