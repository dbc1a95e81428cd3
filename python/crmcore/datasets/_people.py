"""People and places of the synthetic CRM: names in Chinese and Latin
script, phone numbers and e-mail addresses written the many ways people
type them. A part of :class:`crmcore.datasets._synthetic._Generator`, which
gives the random stream and draws the customers, contacts and staff these
belong to.
"""
import numpy as np

from . import _vocab as V
from ._draws import _draw
from ._text import FULL_WIDTH, Parts, ascii_slug, assemble, concat, render_by_choice, vocab


class PeopleDraws:
    """Names, phones and e-mails, drawn for the generator's people."""

    def person_names(self, n, latin):
        """Names (surname first for Chinese ones), plus ascii given/family parts for e-mails."""
        rng = self.rng
        g = len(V.CN_GIVEN)
        double = rng.random(n) < 0.7
        chars = [c for c, _ in V.CN_GIVEN]
        pins = [p for _, p in V.CN_GIVEN]
        parts = Parts()
        sur = _draw(rng, n, 1.0 / (np.arange(len(V.CN_SURNAMES)) + 4.0))
        given = np.where(double, g + rng.integers(0, g, n) * g + rng.integers(0, g, n), rng.integers(0, g, n))
        first = rng.integers(0, len(V.LATIN_FIRST), n)
        last = rng.integers(0, len(V.LATIN_LAST), n)
        parts.add("sur", vocab(c for c, _ in V.CN_SURNAMES), sur)
        parts.add("given", vocab(chars + [a + b for a in chars for b in chars]), given)
        parts.add("first", vocab(V.LATIN_FIRST), first)
        parts.add("last", vocab(V.LATIN_LAST), last)
        parts.add("sur_a", vocab(p for _, p in V.CN_SURNAMES), sur)
        parts.add("given_a", vocab(pins + [a + b for a in pins for b in pins]), given)
        parts.add("first_a", vocab(map(ascii_slug, V.LATIN_FIRST)), first)
        parts.add("last_a", vocab(map(ascii_slug, V.LATIN_LAST)), last)
        script = latin.astype(int)
        return (render_by_choice(parts, ["{sur}{given}", "{first} {last}"], script),
                render_by_choice(parts, ["{given_a}", "{first_a}"], script),
                render_by_choice(parts, ["{sur_a}", "{last_a}"], script))

    def phones(self, city, mobile):
        """Formatted phone numbers and their canonical E.164 digits."""
        rng = self.rng
        n = len(city)
        d3, d3w = self._digits[3]
        d4, d4w = self._digits[4]
        cc = np.array([c[3] for c in V.CITIES])[city]
        local_a3 = np.array([c[6][0] == 3 for c in V.CITIES])[city]
        parts = Parts()
        pre = vocab(V.CN_MOBILE_PREFIXES)
        parts.add("p", pre, rng.integers(0, len(pre), n),
                  vocab(p.translate(FULL_WIDTH) for p in V.CN_MOBILE_PREFIXES))
        parts.add("m", d4, rng.integers(0, 10_000, n), d4w)
        parts.add("l", d4, rng.integers(0, 10_000, n), d4w)
        area = vocab(c[4] for c in V.CITIES)
        parts.add("area", area, city, vocab(c[4].translate(FULL_WIDTH) for c in V.CITIES))
        parts.add("T", vocab(c[5] for c in V.CITIES), city,
                  vocab(c[5].translate(FULL_WIDTH) for c in V.CITIES))
        # Local numbers never start with 0 or 1; 3-digit first groups where the city has them.
        a4, a3 = rng.integers(2000, 10_000, n), rng.integers(200, 1000, n)
        parts.add("a", np.concatenate([d4, d3]), np.where(local_a3, 10_000 + a3, a4),
                  np.concatenate([d4w, d3w]))
        parts.add("b", d4, rng.integers(0, 10_000, n), d4w)
        cn_mobile = mobile & (cc == "86")
        kinds = [
            (cn_mobile, [
                ("{p}{m}{l}", 25), ("{p} {m} {l}", 15), ("{p}-{m}-{l}", 12),
                ("+86 {p} {m} {l}", 15), ("+86-{p}-{m}-{l}", 5), ("0086 {p}{m}{l}", 6),
                ("+86{p}{m}{l}", 10), ("{p!}{m!}{l!}", 5), ("(+86) {p}-{m}-{l}", 4),
                ("86-{p}{m}{l}", 3)]),
            (~mobile & (cc == "86"), [
                ("({T}{area}) {a} {b}", 30), ("{T}{area}-{a}{b}", 35), ("+86 {area} {a} {b}", 20),
                ("0086-{area}-{a}{b}", 10), ("{T!}{area!}-{a!}{b!}", 5)]),
            (cc == "1", [
                ("+1 {area}-{a}-{b}", 30), ("({area}) {a}-{b}", 35), ("{area}.{a}.{b}", 15),
                ("+1 ({area}) {a} {b}", 10), ("001 {area} {a} {b}", 10)]),
            (cc == "44", [
                ("+44 {area} {a} {b}", 35), ("0{area} {a} {b}", 35), ("+44 (0){area} {a} {b}", 20),
                ("0044 {area} {a} {b}", 10)]),
        ]
        pieces = []
        for mask, formats in kinds:
            rows = np.flatnonzero(mask)
            choice = _draw(rng, len(rows), [w for _, w in formats])
            pieces.append((rows, render_by_choice(parts, [t for t, _ in formats], choice, rows)))
        mobile_rows, other_rows = np.flatnonzero(cn_mobile), np.flatnonzero(~cn_mobile)
        e164 = assemble(n, [(mobile_rows, parts.render("+86{p}{m}{l}", mobile_rows)),
                            (other_rows, concat("+", cc[other_rows], parts.render("{area}{a}{b}", other_rows)))])
        return assemble(n, pieces), e164

    def emails(self, given, family, domain, templates):
        """Person e-mails from ascii name parts; a few typed with capitals."""
        rng = self.rng
        n = len(given)
        parts = Parts()
        idx = np.arange(n)
        parts.add("g", given, idx)
        parts.add("f", family, idx)
        parts.add("d", domain, idx)
        parts.add("i", given.astype("U1"), idx)             # the initial: a cast cuts to one character
        parts.add("nn", self._digits[2][0], rng.integers(0, 100, n))
        parts.add("yy", vocab(str(y) for y in range(1960, 2006)), rng.integers(0, 46, n))
        choice = _draw(rng, n, [w for _, w in templates])
        out = render_by_choice(parts, [t for t, _ in templates], choice)
        caps = rng.random(n) < 0.06
        out[caps] = np.char.capitalize(out[caps])     # same length: no widening
        return out

    def private_mail_domains(self, latin):
        """Web-mail domains: Chinese providers for Chinese names, international ones otherwise."""
        cn, intl = vocab(V.PERSON_EMAIL_DOMAINS_CN), vocab(V.PERSON_EMAIL_DOMAINS_LATIN)
        n = len(latin)
        return np.where(latin, intl[self.rng.integers(0, len(intl), n)], cn[self.rng.integers(0, len(cn), n)])
