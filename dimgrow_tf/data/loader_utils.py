"""Shared helpers of the raw-file loaders: errors, file access, int parsing."""

import dataclasses
import gzip
import math
import os
import re
import zlib

INT64_MAX = 2**63 - 1
_INT_RE = re.compile(r"[+-]?[0-9]+")
_MAX_SHOWN = 60


class MalformedRowError(ValueError):
    """A row of a raw file that cannot be parsed.

    The message names the file, the 1-based line number, the field (when
    one field is at fault) and the offending value, e.g.
    `train.txt, line 12, field 'I3': not an integer (value '4x')`.

    Args:
        source: str. File name (or any label of the input).
        line: int. 1-based physical line number in `source`.
        reason: str. What is wrong.
        field: str or None. Field (or column) at fault. Defaults to `None`.
        value: str or None. The offending raw value. Defaults to `None`.
        kind: str. Short category used to count skipped rows (`"columns"`,
            `"label"`, `"integer"`, `"value"`, `"encoding"`, ...). Defaults
            to `"value"`.

    Example:

    ```python
    try:
        loader.read("train.txt")
    except MalformedRowError as err:
        print(err.source, err.line, err.field)
    ```
    """

    def __init__(self, source, line, reason, field=None, value=None,
                 kind="value"):
        self.source = str(source)
        self.line = int(line)
        self.reason = reason
        self.field = field
        self.value = value
        self.kind = kind
        where = f"{self.source}, line {self.line}"
        if field is not None:
            where += f", field {field!r}"
        message = f"{where}: {reason}"
        if value is not None:
            message += f" (value {shorten(value)})"
        super().__init__(message)


class FieldError(ValueError):
    """Raised by a line parser; the reader adds the file and line number.

    Args:
        reason: str. What is wrong.
        field: str or None. Field at fault. Defaults to `None`.
        value: str or None. The offending raw value. Defaults to `None`.
        kind: str. Category for skip counts. Defaults to `"value"`.
    """

    def __init__(self, reason, field=None, value=None, kind="value"):
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.value = value
        self.kind = kind

    def at(self, source, line):
        """Returns the `MalformedRowError` for this error at `source:line`."""
        return MalformedRowError(
            source, line, self.reason, self.field, self.value, self.kind
        )


def shorten(value):
    """`repr(value)`, truncated to about 60 characters."""
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 5] + "...'"
    return text


def check_on_error(on_error):
    """Validates the bad-input policy (`"raise"` or `"skip"`)."""
    if on_error not in ("raise", "skip"):
        raise ValueError(
            '`on_error` must be "raise" or "skip". '
            f"Received: on_error={on_error!r}"
        )
    return on_error


def is_gzip(path):
    """True when `path` starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def iter_byte_lines(path):
    """Yields the lines of a plain or gzip file as bytes, without `\\n`.

    Lines are split on `\\n` only (a lone `\\r` stays in the line) and a
    final `\\r` is removed, so CRLF files read like LF files. A missing
    final newline is fine; an empty file yields nothing. Corrupt or
    truncated gzip data raises a `MalformedRowError` naming the line where
    reading stopped, whatever the `on_error` policy.
    """
    path = os.fspath(path)
    if not is_gzip(path):
        with open(path, "rb") as fh:
            for raw in fh:
                yield strip_eol(raw)
        return
    line = 0
    with gzip.open(path, "rb") as fh:
        try:
            for raw in fh:
                line += 1
                yield strip_eol(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise MalformedRowError(
                path, line + 1, f"corrupt or truncated gzip data ({err})",
                kind="gzip",
            ) from None


def iter_text_byte_lines(text, encoding="utf-8"):
    """Like `iter_byte_lines`, for the contents of a file given as text."""
    data = text.encode(encoding)
    if not data:
        return
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    for raw in parts:
        yield strip_eol(raw)


def strip_eol(raw):
    """Removes one trailing `\\n`, then one trailing `\\r`."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw


def decode_line(raw, encoding):
    """Decodes one line; a decoding error becomes a `FieldError`."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise FieldError(
            f"bytes {raw[err.start:err.end]!r} at offset {err.start} are not "
            f"valid {encoding}",
            kind="encoding",
        ) from None


def parse_int(text, field):
    """Parses an ASCII decimal integer in the int64 range.

    Accepts an optional sign and digits `0-9` only: no spaces, `_`,
    decimal points or non-ASCII digits (Python's `int` would accept some).

    Args:
        text: str. The raw value.
        field: str. Field name for the error.

    Returns:
        int.

    Raises:
        FieldError: when `text` is not such an integer.
    """
    if not _INT_RE.fullmatch(text):
        raise FieldError("not an integer", field, text, kind="integer")
    value = int(text) if len(text.lstrip("+-").lstrip("0")) <= 19 else None
    if value is None or not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise FieldError("integer outside the int64 range", field, text,
                         kind="integer")
    return value


def log_squared(value):
    """Criteo's integer discretisation: `floor(ln(v)**2)` if `v > 2`, else `v`.

    Args:
        value: int.

    Returns:
        int.

    Example:

    ```python
    [log_squared(v) for v in (-2, 0, 2, 3, 100)]   # [-2, 0, 2, 1, 21]
    ```
    """
    if value > 2:
        return int(math.floor(math.log(value) ** 2))
    return int(value)


def int_sort_key(token):
    """Sort key of a canonical int token (`str(int)`): its value."""
    return int(token)


def check_known_keys(cls, config):
    """Raises if `config` has keys that are not fields of dataclass `cls`."""
    unknown = set(config) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} keys: {sorted(unknown)}")
