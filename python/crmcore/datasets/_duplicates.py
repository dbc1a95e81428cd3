"""Duplicate records with known truth, for measuring a duplicate search.

A duplicate is a second record of the same party, typed again by someone
else or imported from another system: the same customer with the phone
written another way, the e-mail in capitals or left out, the company's legal
form dropped or changed, its city moved into brackets, a typo, a Chinese
name written in pinyin. Every change is made column-wise with pandas'
string methods.
"""
import numpy as np
import pandas as pd

from . import _vocab as V
from ._synthetic import SyntheticCRM

_HAN_LEGAL = ["股份有限公司", "有限责任公司", "有限公司"]
_LATIN_LEGAL = [s for s in V.LATIN_COMPANY_SUFFIXES]
_LATIN_LEGAL_OTHER = ["Co., Ltd.", "Inc", "Limited", "L.L.C.", "Corp."]
_CN_CITIES = [c[2] for c in V.CITIES if c[3] == "86"]
_FULL_WIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)} | {0x20: 0x3000}
_HALF_WIDTH = {v: k for k, v in _FULL_WIDTH.items()}

# What may happen to each part of a duplicate, with rough frequencies.
NAME_CHANGES = {
    "cn_org": {"same": 5, "city dropped": 25, "city in brackets": 15, "city with 市": 10, "legal form dropped": 20,
               "legal form changed": 15, "集团 added": 5, "space after city": 5},
    "latin_org": {"same": 10, "case": 20, "legal form dropped": 20, "legal form changed": 15, "full width": 10,
                  "typo": 25},
    "cn_person": {"same": 40, "pinyin": 45, "spaces": 15},
    "latin_person": {"same": 15, "case": 25, "typo": 35, "last name first": 20, "full width": 5},
}
PHONE_CHANGES = {"same": 15, "reformatted": 45, "dropped": 15, "other number": 10, "second number added": 15}
EMAIL_CHANGES = {"same": 35, "upper case": 15, "capitalized": 10, "dropped": 30, "other address": 10}


def with_duplicates(data, rate=0.05, seed=0, kind="customers"):
    """Appends duplicates of some records of `kind`, and says which they are.

    `data` is a SyntheticCRM (or any dict of frames) or a single DataFrame
    with ``name``, ``phone`` and ``email`` columns. About ``rate * len``
    duplicates are made of records drawn at random (a few records get two,
    making clusters of three); each keeps its phone or its e-mail, perhaps
    re-written, and its other fields. Returns ``(data, truth)``: a copy of
    `data` whose `kind` frame has the duplicates appended (other frames are
    shared, positions into the frame stay valid; a SyntheticCRM's `truth`
    gets the source's row for each duplicate), and a DataFrame with one row
    per pair of rows that are the same party: ``a`` < ``b`` (row positions)
    and ``change``, what was done to the later record.

    The records given are taken to be distinct parties. An e-mail address
    names one party, so one held by several of them is first made their own
    ("info@huachuang-tech.cn" becomes "info17@huachuang-tech.cn" at row 17):
    the generator draws company mailboxes from brand and trade alone, and
    two 华创科技 of two cities sharing one would look like one company.

    >>> import crmcore as crm
    >>> data, truth = crm.datasets.with_duplicates(crm.datasets.synthetic(1_000, seed=1), rate=0.05)
    >>> len(data["customers"]), len(truth) >= 50
    (1050, True)
    """
    if not 0 <= rate <= 1:
        raise ValueError("rate must be between 0 and 1")
    frame = _own_addresses(data if isinstance(data, pd.DataFrame) else data[kind])
    rng = np.random.default_rng(seed)
    n = len(frame)
    m = int(round(rate * n))
    source = np.sort(rng.integers(0, n, m)) if n else np.zeros(0, dtype=np.int64)
    dups = frame.iloc[source].reset_index(drop=True)
    change = pd.DataFrame(index=dups.index)
    dups["name"], change["name"] = _names(dups, rng)
    phone_change, email_change = _contact_changes(dups, rng)
    dups["phone"], change["phone"] = _phones(dups["phone"], phone_change, rng)
    dups["email"], change["email"] = _emails(dups["email"], email_change, rng)
    grown = pd.concat([frame, dups], ignore_index=True)
    truth = _truth(source, n, "name: " + change["name"] + "; phone: " + change["phone"] + "; email: "
                   + change["email"])
    if isinstance(data, pd.DataFrame):
        return grown, truth
    frames = dict(data)
    frames[kind] = grown
    if isinstance(data, SyntheticCRM):
        hidden = data.truth
        if kind == "customers":
            hidden = pd.concat([hidden, hidden.iloc[source]], ignore_index=True)
        return SyntheticCRM(frames, hidden, data.seed), truth
    return frames, truth


def _own_addresses(frame):
    """`frame` with each e-mail address held by one record only: later holders
    of an address get their row number after its local part."""
    if "email" not in frame.columns:
        return frame
    email = pd.Series(frame["email"].to_numpy(), dtype="string")      # indexed by row position
    parts = email.str.split(";").explode().dropna().str.strip()
    taken = parts.str.lower().duplicated()
    if not taken.any():
        return frame
    split = parts.str.extract(r"^([^@]*)(@.*)$")
    numbered = split[0] + pd.Series(parts.index.astype(str), index=parts.index) + split[1]
    owned = parts.where(~taken, numbered.fillna(parts))
    out = frame.copy()
    joined = owned.groupby(level=0, sort=False).agg(";".join).reindex(range(len(frame)))
    out["email"] = joined.astype(object).where(joined.notna(), None).to_numpy()
    return out


def _truth(source, n, change):
    """Every pair within each group of a record and its duplicates."""
    members = pd.DataFrame({"party": np.concatenate([np.unique(source), source]),
                            "row": np.concatenate([np.unique(source), n + np.arange(len(source))])})
    pairs = members.merge(members, on="party", suffixes=("_a", "_b"))
    pairs = pairs[pairs["row_a"] < pairs["row_b"]]
    later = pairs["row_b"].to_numpy() - n
    return pd.DataFrame({"a": pairs["row_a"].to_numpy(), "b": pairs["row_b"].to_numpy(),
                         "change": change.to_numpy()[later]}).sort_values(["a", "b"], ignore_index=True)


def _draw(rng, n, choices):
    names = list(choices)
    weights = np.asarray([choices[k] for k in names], dtype=float)
    return np.asarray(names, dtype=object)[rng.choice(len(names), n, p=weights / weights.sum())]


# ---- names --------------------------------------------------------------------------------


def _classes(dups):
    name = dups["name"].astype("string").fillna("")
    han = name.str.contains(r"^[\u3400-\u9fff]+$", regex=True)
    if "kind" in dups.columns:
        org = (dups["kind"] == "organization").to_numpy()
    else:
        org = name.str.contains(r"(?:公司|Inc\.|Ltd|LLC|GmbH|Co\.|Group|plc)$", regex=True).to_numpy()
    return np.where(org, np.where(han, "cn_org", "latin_org"), np.where(han, "cn_person", "latin_person"))


def _names(dups, rng):
    name = dups["name"].astype(object).copy()
    classes = _classes(dups)
    what = pd.Series("same", index=dups.index, dtype=object)
    for cls, choices in NAME_CHANGES.items():
        rows = np.flatnonzero(classes == cls)
        what.iloc[rows] = _draw(rng, len(rows), choices)
    for change in set(what):
        rows = (what == change).to_numpy()
        if change != "same":
            before = pd.Series(name[rows].to_numpy(), dtype=object)
            after = _rename(before, change, classes[rows], rng)
            name[rows] = after.to_numpy()
    return name, what


def _rename(s, change, classes, rng):
    text = s.astype(str)
    cities = "|".join(_CN_CITIES)
    han_legal = "|".join(_HAN_LEGAL)
    latin_legal = "|".join(map(_escape, _LATIN_LEGAL))
    if change == "city dropped":
        return text.str.replace(f"^(?:{cities})", "", regex=True)
    if change == "city in brackets":
        return text.str.replace(f"^({cities})(.+?)({han_legal})$", r"\2（\1）\3", regex=True)
    if change == "city with 市":
        return text.str.replace(f"^({cities})", r"\1市", regex=True)
    if change == "space after city":
        return text.str.replace(f"^({cities})", r"\1 ", regex=True)
    if change == "集团 added":
        return text.str.replace(f"({han_legal})$", r"集团\1", regex=True)
    if change == "legal form dropped":
        return text.str.replace(f"(?:{han_legal})$", "", regex=True).str.replace(f"\\s+(?:{latin_legal})$", "",
                                                                                 regex=True)
    if change == "legal form changed":
        han = pd.Series(np.asarray(_HAN_LEGAL, dtype=object)[rng.integers(0, len(_HAN_LEGAL), len(s))])
        latin = pd.Series(np.asarray(_LATIN_LEGAL_OTHER, dtype=object)[rng.integers(0, len(_LATIN_LEGAL_OTHER),
                                                                                     len(s))])
        han_stem = text.str.replace(f"(?:{han_legal})$", "", regex=True)
        latin_stem = text.str.replace(f"\\s+(?:{latin_legal})$", "", regex=True)
        return pd.Series(np.where(classes == "cn_org", han_stem + han, latin_stem + " " + latin))
    if change == "case":
        upper = rng.random(len(s)) < 0.5
        return pd.Series(np.where(upper, text.str.upper(), text.str.lower()))
    if change == "full width":
        return text.str.translate(_FULL_WIDTH)
    if change == "typo":
        return _typo(text, rng)
    if change == "last name first":
        return text.str.replace(r"^(\S+)\s+(.+)$", r"\2, \1", regex=True)
    if change == "spaces":
        return text.str.join(" ")
    if change == "pinyin":
        return _pinyin(text, rng)
    raise ValueError(f"unknown change {change!r}")


def _escape(word):
    return word.replace(".", r"\.")


def _typo(text, rng):
    """One slip of the keyboard past the first letter: two letters swapped, one
    left out, one wrong or one doubled. Grouped by position, so each group is
    a few vectorized slices."""
    length = text.str.len().to_numpy()
    position = 1 + (rng.random(len(text)) * np.maximum(length - 2, 1)).astype(int)
    kind = rng.integers(0, 4, len(text))
    letter = pd.Series(np.asarray(list("aeiounrst"), dtype=object)[rng.integers(0, 9, len(text))])
    out = text.copy()
    for p in np.unique(position):
        for k in range(4):
            rows = np.flatnonzero((position == p) & (kind == k) & (length >= 4))
            if not len(rows):
                continue
            t = text.iloc[rows]
            head, here, nxt, rest = t.str.slice(0, p), t.str.slice(p, p + 1), t.str.slice(p + 1, p + 2), t.str.slice(p + 2)
            if k == 0:
                new = head + nxt + here + rest
            elif k == 1:
                new = head + nxt + rest
            elif k == 2:
                new = head + letter.iloc[rows].to_numpy() + nxt + rest
            else:
                new = head + here + here + nxt + rest
            out.iloc[rows] = new.to_numpy()
    return out


def _pinyin(text, rng):
    """王芳 -> "Wang Fang", "Fang Wang", "WANG Fang" or "wang fang", from the
    generator's own word lists (so the truth does not lean on the pinyin
    table the search uses)."""
    surnames = dict(V.CN_SURNAMES)
    given = dict(V.CN_GIVEN)
    compound = text.str.slice(0, 2).isin([s for s in surnames if len(s) == 2])
    sur = pd.Series(np.where(compound, text.str.slice(0, 2), text.str.slice(0, 1)))
    rest = pd.Series(np.where(compound, text.str.slice(2), text.str.slice(1)))
    sur_py = sur.map(surnames)
    first, second = rest.str.slice(0, 1).map(given), rest.str.slice(1, 2).map(given)
    second = second.where(rest.str.len() > 1, "")
    known = sur_py.notna() & first.notna() & second.notna() & (rest.str.len() <= 2)
    sur_py, given_py = sur_py.fillna("").str.capitalize(), (first.fillna("") + second.fillna("")).str.capitalize()
    form = rng.integers(0, 4, len(text))
    spelled = np.select([form == 0, form == 1, form == 2],
                        [sur_py + " " + given_py, given_py + " " + sur_py, sur_py.str.upper() + " " + given_py],
                        (sur_py + " " + given_py).str.lower())
    return pd.Series(np.where(known, spelled, text))


# ---- phones and e-mails ---------------------------------------------------------------------------


def _contact_changes(dups, rng):
    """What happens to the phone and the e-mail, such that the duplicate keeps
    at least one of them (re-written perhaps): a record with neither could
    be told from a stranger of the same name by nobody."""
    m = len(dups)
    phone, email = _draw(rng, m, PHONE_CHANGES), _draw(rng, m, EMAIL_CHANGES)
    has_phone, has_email = dups["phone"].notna().to_numpy(), dups["email"].notna().to_numpy()
    keeps = ((np.isin(phone, ["same", "reformatted", "second number added"]) & has_phone)
             | (np.isin(email, ["same", "upper case", "capitalized"]) & has_email))
    phone = np.where(~keeps & has_phone, "reformatted", phone)
    email = np.where(~keeps & ~has_phone, "same", email)
    phone = np.where(has_phone, phone, "missing")
    email = np.where(has_email, email, "missing")
    return phone, email


def _phones(phone, change, rng):
    text = phone.astype("string")
    out = text.copy()
    reformat = change == "reformatted"
    out[reformat] = _reformat(text[reformat], rng).to_numpy()
    out[change == "dropped"] = pd.NA
    other = np.isin(change, ["other number", "second number added"])
    numbers = pd.Series(np.char.add("13", rng.integers(100_000_000, 1_000_000_000, other.sum()).astype(str)))
    out[change == "other number"] = numbers[change[other] == "other number"].to_numpy()
    out[change == "second number added"] = (text[change == "second number added"]
                                            + "; " + numbers[change[other] == "second number added"].to_numpy())
    return out.astype(object).where(out.notna(), None), pd.Series(change)


def _reformat(text, rng):
    """The same number written another way: regrouped with spaces or dashes, in
    full-width digits, or a Chinese mobile with or without +86."""
    plain = text.str.replace("(0)", "", regex=False).str.translate(_HALF_WIDTH).str.strip()
    plus = plain.str.startswith("+")
    digits = plain.str.replace(r"\D", "", regex=True)
    sign = pd.Series(np.where(plus, "+", ""), index=text.index)
    spaced = sign + digits.str.replace(r"(\d{4})(?=\d)", r"\1 ", regex=True)
    dashed = sign + digits.str.replace(r"(\d{4})(?=\d)", r"\1-", regex=True)
    mobile = ~plus & digits.str.fullmatch(r"1\d{10}")
    with_code = plus & digits.str.fullmatch(r"861\d{10}")
    toggled = pd.Series(np.where(mobile, "+86 " + digits, np.where(with_code, digits.str.slice(2), spaced)),
                        index=text.index)
    form = rng.integers(0, 4, len(text))
    return pd.Series(np.select([form == 0, form == 1, form == 2], [spaced, dashed, spaced.str.translate(_FULL_WIDTH)],
                               toggled), index=text.index)


def _emails(email, change, rng):
    text = email.astype("string")
    out = text.copy()
    out[change == "upper case"] = text[change == "upper case"].str.upper()
    out[change == "capitalized"] = text[change == "capitalized"].str.capitalize()
    out[change == "dropped"] = pd.NA
    other = change == "other address"
    out[other] = np.char.add(np.char.add("user", rng.integers(10_000, 10_000_000, other.sum()).astype(str)),
                             "@163.com")
    return out.astype(object).where(out.notna(), None), pd.Series(change)
