"""Saying where a text file the user gave (a CSV or JSON file of records, a
mapping file) stops being text in its encoding: Python's UnicodeDecodeError
names neither the file nor the line, only a byte position within whatever
chunk the reader happened to decode."""
from __future__ import annotations

import codecs
import os
from typing import Any

#: Byte-order marks of encodings a UTF-8 reader cannot read, and their names.
_MARKS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
          (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
_CHUNK = 1 << 20
_HINT = ("save it as UTF-8 (or, in Python, give import_csv its encoding=: an export from Excel on a "
         "Chinese Windows is usually gb18030, on a Western one cp1252)")


def first_undecodable(path: "str | os.PathLike", encoding: str = "utf-8") -> "tuple[int, int, bytes] | None":
    """(line, column, bytes) of the first bytes of the file at ``path`` that
    are not text in ``encoding`` (line and column from 1, the column in
    characters), or None when the whole file decodes. Read in chunks, so a
    large file costs one pass and little memory.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes(b"name\\nAnn\\nJos\\xe9\\n")
    >>> first_undecodable(p)
    (3, 4, b'\\xe9')
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    line, column = 1, 1
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                # The bytes held back from the last chunk come first in e.object.
                good = e.object[:e.start].decode(encoding, errors="replace")
                line += good.count("\n")
                column = (column if "\n" not in good else 1) + len(good.rsplit("\n", 1)[-1])
                return line, column, bytes(e.object[e.start:e.end])
            line += text.count("\n")
            column = (column if "\n" not in text else 1) + len(text.rsplit("\n", 1)[-1])
            if not chunk:
                return None


def undecodable(path: "str | os.PathLike", error: UnicodeError, encoding: Any = None, csv: bool = True) -> str:
    """What to tell the user when reading the file at ``path`` raised
    ``error``: the file, the line and column of the first bytes that are not
    ``encoding`` (UTF-8 by default), and what to do about it (a CSV file
    can also be read in another encoding).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes(b"name\\nJos\\xe9\\n")
    >>> undecodable(p, UnicodeDecodeError("utf-8", b"", 0, 1, "invalid"))  # doctest: +ELLIPSIS
    "'.../a.csv' line 2, column 4: the bytes b'\\\\xe9' are not UTF-8 text; ..."
    """
    name = encoding or "utf-8"
    where = f"'{os.fspath(path)}'"
    try:
        with open(path, "rb") as f:
            start = f.read(4)
        found = first_undecodable(path, name)
    except (OSError, LookupError):
        start, found = b"", None
    mark = next((label for bom, label in _MARKS if start.startswith(bom)), None)
    hint = _HINT if csv else "save it as UTF-8"
    if mark is not None and name.replace("-", "").lower() in ("utf8", "utf_8"):
        return f"{where} is {mark} text (it starts with a {mark} byte-order mark), not UTF-8: {hint}"
    if found is not None:
        line, column, data = found
        where = f"{where} line {line}, column {column}"
        what = f"the bytes {data!r} are not {name.upper() if name == 'utf-8' else name} text"
    else:
        what = f"is not {name} text ({error})"
    return f"{where}: {what}; {hint}"
