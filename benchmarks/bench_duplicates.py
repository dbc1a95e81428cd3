"""Duplicate detection: crmcore against Splink (DuckDB backend) on the same labelled records.

The records are synthetic customers (Chinese and international, persons and
companies) with 5% duplicates injected by ``crm.datasets.with_duplicates``:
phones re-formatted, e-mails in capitals or dropped, legal forms dropped or
changed, cities dropped or put in brackets, typos, Chinese names in pinyin.
Both tools are scored against that truth (pairs of records that are one
party): precision, recall and F1 of the pairs each reports at a match
probability of 0.5, and the time each takes, wall and CPU (all threads).

Splink gets the columns cleaned the way its documentation asks: names
NFKC-folded, lower-cased and stripped of everything but letters and digits;
phones as crmcore's national number key and e-mails lower-cased (the first
value of each; Splink compares single values). That cleaning is not timed.
Its model: Jaro-Winkler levels on the name, exact phone and e-mail, all with
term-frequency adjustments; blocking on each of the three; u by random
sampling, m by expectation maximisation, as in Splink's tutorials; the time
of training and of predicting are printed apart.

Then crmcore alone on a million customers: ``crm.find_duplicates`` on the
frame, and ``db.duplicates`` on a store holding them. Run:

    python benchmarks/bench_duplicates.py [--customers 100000] [--big 1000000]
"""
import argparse
import logging
import os
import tempfile
import time

import numpy as np
import pandas as pd

import crmcore as crm


def labelled(n, seed, rate=0.05):
    """Customers (name, phone, email) with duplicates appended, and the true pairs."""
    data, truth = crm.datasets.with_duplicates(crm.datasets.synthetic(n, seed=seed), rate=rate, seed=seed + 1)
    return data["customers"][["name", "phone", "email", "kind"]], truth


def quality(found, truth):
    """Precision, recall and F1 of pairs (two arrays of row positions) against the true pairs."""
    lo, hi = np.minimum(*found), np.maximum(*found)
    got = set(zip(lo.tolist(), hi.tolist()))
    true = set(zip(truth["a"].tolist(), truth["b"].tolist()))
    hit = len(got & true)
    precision = hit / len(got) if got else 1.0
    recall = hit / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return len(got), precision, recall, f1


class Clock:
    """Wall and CPU seconds of a block (CPU of every thread of the process, so
    DuckDB's and crmcore's threads count alike; on a busy machine the CPU
    figure is the steadier one)."""

    def __enter__(self):
        self.wall, self.cpu = -time.perf_counter(), -time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter()
        self.cpu += time.process_time()

    def __add__(self, other):
        both = Clock()
        both.wall, both.cpu = self.wall + other.wall, self.cpu + other.cpu
        return both


def load_pinyin():
    """pypinyin's table, read once per process on the first search."""
    with Clock() as clock:
        crm.duplicates._pinyin_table()
    return clock


def run_crmcore(customers):
    load_pinyin()
    with Clock() as clock:
        pairs = crm.find_duplicates(customers)
    return clock, (pairs["id_a"].to_numpy(), pairs["id_b"].to_numpy())


def splink_input(customers):
    """The columns as Splink's documentation asks for them: cleaned, one value each."""
    def first(column):
        return column.astype("string").str.split(";").str[0].str.strip()
    name = customers["name"].astype("string").str.normalize("NFKC").str.lower().str.replace(r"[\W_]+", "", regex=True)
    phone = first(customers["phone"]).map(lambda p: crm._core.phone_key(p) or None, na_action="ignore")
    email = first(customers["email"]).str.lower()
    frame = pd.DataFrame({"unique_id": np.arange(len(customers)), "name": name, "phone": phone, "email": email})
    return frame.astype(object).where(frame.notna(), None).replace({"": None})


def run_splink(frame, seed):
    """Splink's dedupe as its tutorials run it: train the model, then predict."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    with Clock() as training:
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=[
                cl.JaroWinklerAtThresholds("name", [0.95, 0.88]).configure(term_frequency_adjustments=True),
                cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
                cl.ExactMatch("email").configure(term_frequency_adjustments=True),
            ],
            blocking_rules_to_generate_predictions=[block_on("phone"), block_on("email"), block_on("name")],
        )
        linker = Linker(DuckDBAPI().register(frame), settings, log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("phone", "name"), block_on("email", "name")], recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    with Clock() as predicting:
        pairs = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    return training + predicting, training, predicting, (pairs["unique_id_l"].to_numpy(np.int64),
                                                         pairs["unique_id_r"].to_numpy(np.int64))


def compare(n, seed):
    customers, truth = labelled(n, seed)
    print(f"\nDuplicate detection on {len(customers):,} customers ({len(customers) - n:,} duplicates injected, "
          f"{len(truth):,} true pairs)")
    table = load_pinyin()
    ours, ours_pairs = run_crmcore(customers)
    theirs, training, predicting, theirs_pairs = run_splink(splink_input(customers), seed)
    rows = [("crmcore find_duplicates", ours, *quality(ours_pairs, truth)),
            ("splink (duckdb)", theirs, *quality(theirs_pairs, truth))]
    print(f"{'tool':<26}{'seconds':>9}{'cpu s':>8}{'pairs':>8}{'precision':>11}{'recall':>9}{'F1':>8}")
    for name, clock, count, p, r, f in rows:
        print(f"{name:<26}{clock.wall:>9.2f}{clock.cpu:>8.2f}{count:>8,}{p:>11.4f}{r:>9.4f}{f:>8.4f}")
    f_ours, f_theirs = rows[0][-1], rows[1][-1]
    print(f"ratios: splink's time / crmcore's {theirs.wall / ours.wall:.1f}x (CPU {theirs.cpu / ours.cpu:.1f}x); "
          f"F1 crmcore / splink {f_ours / f_theirs:.3f}")
    print(f"  splink: training {training.wall:.2f} s (CPU {training.cpu:.2f}), predicting {predicting.wall:.2f} s "
          f"(CPU {predicting.cpu:.2f}); crmcore's first search also reads pypinyin's table: {table.wall:.2f} s")
    by_change = _recall_by_change(ours_pairs, theirs_pairs, truth)
    print("\nRecall by what was changed in the duplicate (name part):")
    print(by_change.to_string(float_format=lambda v: f"{v:.3f}"))


def _recall_by_change(ours, theirs, truth):
    def found(pairs):
        got = set(zip(np.minimum(*pairs).tolist(), np.maximum(*pairs).tolist()))
        return np.array([(a, b) in got for a, b in zip(truth["a"], truth["b"])])
    change = truth["change"].str.extract(r"^name: ([^;]*)")[0]
    table = pd.DataFrame({"change": change, "crmcore": found(ours), "splink": found(theirs)})
    out = table.groupby("change").agg(pairs=("crmcore", "size"), crmcore=("crmcore", "mean"), splink=("splink", "mean"))
    return out.sort_values("pairs", ascending=False)


def big(n, seed):
    with Clock() as made:
        customers, truth = labelled(n, seed)
    print(f"\ncrmcore alone on {len(customers):,} customers, {len(truth):,} true pairs (generated in {made.wall:.0f} s)")
    clock, pairs = run_crmcore(customers)
    count, p, r, f = quality(pairs, truth)
    print(f"  crm.find_duplicates(frame)     {clock.wall:7.2f} s (CPU {clock.cpu:6.2f} s)   {count:,} pairs, "
          f"precision {p:.4f}, recall {r:.4f}, F1 {f:.4f}")
    with tempfile.TemporaryDirectory() as tmp:
        with crm.open(os.path.join(tmp, "big.crm")) as db:
            with Clock() as loaded:
                ids = db.import_frame("customers", customers, progress=False)
            with Clock() as clock:
                stored = db.duplicates("customers")
            position = pd.Series(np.arange(len(ids)), index=ids)
            count, p, r, f = quality((position[stored["id_a"]].to_numpy(), position[stored["id_b"]].to_numpy()),
                                     truth)
    print(f"  db.duplicates('customers')     {clock.wall:7.2f} s (CPU {clock.cpu:6.2f} s)   {count:,} pairs, F1 {f:.4f} "
          f"(import of them: {loaded.wall:.1f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000, help="customers before duplicates, side by side")
    parser.add_argument("--big", type=int, default=1_000_000, help="customers for crmcore alone (0: skip)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    compare(args.customers, args.seed)
    if args.big:
        big(args.big, args.seed + 100)


if __name__ == "__main__":
    main()
