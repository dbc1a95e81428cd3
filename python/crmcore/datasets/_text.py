"""Vectorized text building for the generator.

Strings are assembled with NumPy's string ufuncs on fixed-width unicode
arrays (gathering those by index is a plain memory copy, about ten times
faster than with the variable-width StringDType), whole columns at a time: a template such as "+{cc} {p} {m} {l}" is rendered for the
rows that use it by concatenating columns drawn from small vocabularies. This
keeps a million phone numbers or e-mail addresses to a few ufunc calls.
"""
import re
import unicodedata

import numpy as np

FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def vocab(words):
    """An array of words, for drawing columns by integer codes."""
    return np.asarray(list(words), dtype=str)


def digits(width, full_width=False):
    """All zero-padded numbers of `width` digits, e.g. "0000".."9999"."""
    words = [str(i).zfill(width) for i in range(10 ** width)]
    if full_width:
        words = [w.translate(FULL_WIDTH) for w in words]
    return vocab(words)


def ascii_slug(word):
    """'Müller' -> 'muller', "O'Brien" -> 'obrien' (for e-mail local parts)."""
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def concat(*columns):
    """Element-wise concatenation of string arrays and plain strings."""
    out = columns[0]
    for col in columns[1:]:
        out = np.char.add(out, col)     # np.strings.add on NumPy 2; also there on 1.26
    return out


class Parts:
    """Named text columns stored as (vocabulary, codes), rendered on demand.

    A template names parts in braces; "{p!}" asks for the full-width spelling
    of part p, so one set of codes yields both "138" and "１３８".
    """

    _token = re.compile(r"\{(\w+!?)\}")

    def __init__(self):
        self._parts = {}

    def add(self, name, words, codes, full_width_words=None):
        self._parts[name] = (words, np.asarray(codes), full_width_words)

    def column(self, name, rows):
        full = name.endswith("!")
        words, codes, fw = self._parts[name.rstrip("!")]
        return (fw if full else words)[codes[rows]]

    def render(self, template, rows):
        pieces = self._token.split(template)
        cols = []
        for i, piece in enumerate(pieces):
            if i % 2:
                cols.append(self.column(piece, rows))
            elif piece:
                cols.append(piece)
        if not cols:
            return np.full(len(rows), "")
        if isinstance(cols[0], str):
            cols[0] = np.full(len(rows), cols[0])
        return concat(*cols)


def render_by_choice(parts, templates, choice, rows=None):
    """Render row i with templates[choice[i]]; one ufunc pass per template."""
    n = len(choice)
    rows = np.arange(n) if rows is None else rows
    pieces = []
    for k, template in enumerate(templates):
        sel = np.flatnonzero(choice == k)
        if len(sel):
            pieces.append((sel, parts.render(template, rows[sel])))
    return assemble(n, pieces)


def assemble(n, pieces):
    """A column of n strings from (rows, values) pieces, later pieces winning; "" elsewhere.

    Allocated once at the widest piece's width: a fixed-width column widened
    piece by piece would be copied whole each time.
    """
    widest = max([np.asarray(v).dtype for _, v in pieces], key=lambda d: d.itemsize, default=np.dtype("U1"))
    out = np.zeros(n, dtype=widest)
    for rows, values in pieces:
        out[rows] = values
    return out


def to_object(column, missing=None):
    """String array -> object column for pandas; `missing` marks rows that are null."""
    out = column.astype(object)
    if missing is not None:
        out[missing] = None
    return out
