"""Text columns kept by Arrow are imported from their buffers (issue 9).

The reference is the same frame with its text as Python objects, the form
the core read before: both must leave the same store and give the same
errors, whatever the Arrow layout (several chunks, a sliced chunk, 64-bit
offsets, missing values, empty strings, NUL, Chinese text).
"""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import crmcore as crm

NAMES = ["Acme", "", None, "华北贸易", "O'Brien \"quoted\"", "tab\there", "x" * 300, "Zed"]
REGIONS = [None, "East", "华东", "", None, "West", "北京", None]
CUSTOM = ['{"k": "值"}', None, "{}", '{"n": 1}', None, '{"a": [1, 2]}', None, '{"s": ""}']


def object_frame(rows=NAMES, start=0):
    n = len(rows)
    return pd.DataFrame({
        "external_source": pd.Series(["erp"] * n, dtype=object),
        "external_id": pd.Series([f"C{i:03d}" for i in range(start, start + n)], dtype=object),
        "name": pd.Series(rows, dtype=object),
        "region": pd.Series(REGIONS[:n], dtype=object),
        "custom": pd.Series(CUSTOM[:n], dtype=object),
    })


def chunked(values, arrow_type, layout):
    """`values` as a ChunkedArray of `arrow_type` laid out as `layout` says."""
    if layout == "one":
        return pa.chunked_array([pa.array(values, type=arrow_type)])
    if layout == "chunks":  # three chunks, one of them empty
        return pa.chunked_array([pa.array(values[:3], type=arrow_type), pa.array([], type=arrow_type),
                                 pa.array(values[3:], type=arrow_type)])
    # slices of a larger array: each chunk starts inside its buffers
    padded = pa.array(["before", None] + list(values) + ["after"], type=arrow_type)
    return pa.chunked_array([padded.slice(2, 4), padded.slice(6, len(values) - 4)])


def as_arrow(frame, arrow_type, layout, dtype_kind):
    out = frame.copy()
    for column in out.columns:
        array = chunked(frame[column].tolist(), arrow_type, layout)
        if dtype_kind == "ArrowDtype":
            out[column] = pd.Series(pd.arrays.ArrowExtensionArray(array), index=frame.index)
        else:  # pandas' own string dtype over pyarrow
            out[column] = pd.Series(pd.arrays.ArrowStringArray(array), index=frame.index)
    return out


LAYOUTS = [(arrow_type, layout, dtype_kind)
           for arrow_type in (pa.string(), pa.large_string())
           for layout in ("one", "chunks", "sliced")
           for dtype_kind in ("ArrowDtype", "StringDtype")]


def stored(db):
    frame = db.frame("customers", columns=["external_source", "external_id", "name", "region", "custom"])
    return frame.sort_values("external_id").reset_index(drop=True).astype(object).where(lambda f: f.notna(), None)


def outcome(db_path, frame, **kwargs):
    """The store after importing `frame`, or the error it gave (with the store unchanged)."""
    with crm.open(db_path) as db:
        db.import_frame("customers", object_frame(["kept", "old 5", "old 6", "old 7"], start=4))
        try:
            result = db.import_frame("customers", frame, **kwargs)
            errors = result.errors.reset_index().astype(str).values.tolist()
            return stored(db), errors, None
        except crm.ValidationError as e:
            return stored(db), None, (e.row, e.field, e.reason)


@pytest.mark.parametrize("arrow_type,layout,dtype_kind", LAYOUTS)
@pytest.mark.parametrize("mode", ["insert", "upsert"])
def test_arrow_and_object_text_import_alike(tmp_path, arrow_type, layout, dtype_kind, mode):
    frame = object_frame()
    arrow = as_arrow(frame, arrow_type, layout, dtype_kind)
    chunks = arrow["name"].array._pa_array.chunks
    assert (len(chunks) == 1) == (layout == "one") and (chunks[0].offset > 0) == (layout == "sliced")
    kwargs = {"on_error": "skip"} if mode == "insert" else {"mode": "upsert", "key": ["external_source", "external_id"],
                                                                 "on_error": "skip"}
    want = outcome(str(tmp_path / "object.db"), frame, **kwargs)
    got = outcome(str(tmp_path / "arrow.db"), arrow, **kwargs)
    assert got[1] == want[1] and got[2] == want[2]
    pd.testing.assert_frame_equal(got[0], want[0])
    # The required name is missing in row 2 (None) and empty in row 1; an
    # insert also meets the keys the store holds (rows 4-7), an upsert
    # updates them.
    assert sorted(int(row[0]) for row in want[1]) == ([1, 2, 4, 5, 6, 7] if mode == "insert" else [1, 2])


@pytest.mark.parametrize("arrow_type,layout,dtype_kind", LAYOUTS)
def test_nul_in_arrow_text_is_refused_naming_row_and_field(tmp_path, arrow_type, layout, dtype_kind):
    frame = object_frame()
    frame.loc[5, "region"] = "Ea\x00st"
    arrow = as_arrow(frame, arrow_type, layout, dtype_kind)
    want = outcome(str(tmp_path / "object.db"), frame)
    got = outcome(str(tmp_path / "arrow.db"), arrow)
    assert want[2] is not None and want[2][1] in ("name", "region")
    assert got[2] == want[2]
    pd.testing.assert_frame_equal(got[0], want[0])
    # Each row's own error, row 5's being the NUL in its region.
    want = outcome(str(tmp_path / "object_skip.db"), frame, on_error="skip")
    got = outcome(str(tmp_path / "arrow_skip.db"), arrow, on_error="skip")
    assert got[1] == want[1]
    pd.testing.assert_frame_equal(got[0], want[0])
    assert [row[1:3] for row in want[1] if row[0] == "5"] == [["region", "'Ea\\x00st' holds a NUL byte"]]


@pytest.mark.parametrize("large", [False, True])
def test_invalid_utf8_in_arrow_text_is_a_row_error(tmp_path, large):
    # pyarrow checks UTF-8 when it builds strings from Python, but an array
    # made from buffers (as a reader of files may) is not checked.
    good, bad = b"Acme", b"caf\xe9"
    offsets = np.array([0, 4, 8, 12], dtype=np.int64 if large else np.int32)
    data = good + bad + b"Zed!"
    arrow_type = pa.large_string() if large else pa.string()
    array = pa.Array.from_buffers(arrow_type, 3, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)])
    frame = pd.DataFrame({"name": pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([array])))})
    with crm.open(str(tmp_path / "s.db")) as db:
        with pytest.raises(crm.ValidationError) as info:
            db.import_frame("customers", frame)
        assert (info.value.row, info.value.field) == (1, "name") and "UTF-8" in str(info.value)
        assert db.count("customers") == 0
        result = db.import_frame("customers", frame, on_error="skip")
        assert result.errors.index.tolist() == [1] and "UTF-8" in result.errors["reason"][1]
        assert db.frame("customers")["name"].tolist() == ["Acme", "Zed!"]


def test_arrow_chunks_outside_their_buffers_are_refused():
    offsets, data = np.array([0, 2, 9], dtype=np.int32), np.frombuffer(b"abcd", dtype=np.uint8)
    with crm.open(":memory:") as db:
        for chunk, says in [((offsets, data, None, 0, 2, False), "outside the data"),
                            ((offsets, data, None, 1, 2, False), "do not cover"),
                            ((np.array([0, 3, 1], dtype=np.int32), data, None, 0, 2, False), "decrease"),
                            ((offsets[:2], data, np.zeros(0, dtype=np.uint8), 0, 1, False), "bitmap")]:
            with pytest.raises(ValueError, match=says):
                db._core.insert("customers", [("name", [chunk], None, None)], "stop", None, True)
