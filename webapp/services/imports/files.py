"""Reading an uploaded CSV file: its encoding, its dialect, its header, and its rows."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

from webapp.infra.errors import ValidationFailed

MAX_COLUMNS = 100


# --- reading the file ---------------------------------------------------------------------

def encoding_of(content: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252, as spreadsheets save.
    Checked a megabyte at a time, so a large file is never decoded whole in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    try:
        for start in range(0, len(content), step):
            decoder.decode(content[start:start + step], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def _dialect_of(first_line: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


PREVIEW_BYTES = 256 * 1024


def head(content: bytes, size: int = PREVIEW_BYTES) -> bytes:
    """The file's first complete lines within `size` bytes: enough for a preview, without
    reading a 50 MB upload each time the mapping changes."""
    if len(content) <= size:
        return content
    cut = content.rfind(b"\n", 0, size)
    return content[:cut + 1] if cut > 0 else content[:size]


def read_rows(content: bytes) -> tuple[list[str], Iterator[list[str]]]:
    """The header and an iterator over the data rows (blank lines skipped), decoded as the
    rows are read."""
    encoding = encoding_of(content)
    first_line = head(content, 64 * 1024).split(b"\n", 1)[0].decode(encoding, errors="replace")
    stream = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, errors="replace", newline="")
    reader = csv.reader(stream, dialect=_dialect_of(first_line))
    header = next(reader, None)
    if header is None:
        raise ValidationFailed("file", "is empty: upload a CSV file with a header row")
    return [h.strip() for h in header], (row for row in reader if any(cell.strip() for cell in row))


def _check_header(columns: list[str]) -> None:
    if not any(columns):
        raise ValidationFailed("file", "the first row must name the columns")
    if len(columns) > MAX_COLUMNS:
        raise ValidationFailed("file", f"at most {MAX_COLUMNS} columns")
    seen: set[str] = set()
    for i, name in enumerate(columns):
        if not name:
            raise ValidationFailed("file", f"column {i + 1} has no name in the header row")
        if "\x00" in name or len(name) > 200:
            raise ValidationFailed("file", f"column {i + 1}'s name is not a valid column name")
        if name.lower() in seen:
            raise ValidationFailed("file", f"the column name '{name}' appears twice in the header row")
        seen.add(name.lower())


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) with the file's line numbers as a spreadsheet shows them (header = 1)."""
    for i, row in enumerate(reader):
        yield i + 2, row
