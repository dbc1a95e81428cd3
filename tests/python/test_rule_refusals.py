"""Rules that would do nothing, silently, are refused when written, with a
ValidationError naming the field: a schedule rule without every_days, a
playbook action naming a playbook with no steps (rules on="playbook" of that
name and kind), a commission band (tier_from above 0) without the entry rule
of its scale. The store is left as it was."""
import pandas as pd
import pytest

import crmcore as crm

pytestmark = pytest.mark.usefixtures("backend")

PG_MISSING = {
    "test_a_schedule_rule_needs_every_days": "automation rules",
    "test_a_playbook_action_needs_the_playbook_s_steps": "automation rules",
}


def refused(db, kind, field, write):
    """`write()` raises a ValidationError naming `kind` and `field`, and changes nothing."""
    before = db.frame(kind)
    with pytest.raises(crm.ValidationError) as info:
        write()
    assert (info.value.kind, info.value.field) == (kind, field), str(info.value)
    pd.testing.assert_frame_equal(db.frame(kind), before)
    return info.value


def test_a_schedule_rule_needs_every_days():
    db = crm.open()
    tag = [{"do": "tag", "add": ["weekly"]}]
    err = refused(db, "automation_rules", "every_days",
                  lambda: db.automation.add_rule("weekly", on="schedule", kind="customers", actions=tag))
    assert "every_days" in err.reason
    rule = db.automation.add_rule("weekly", on="schedule", kind="customers", every_days=7, actions=tag)
    refused(db, "automation_rules", "every_days", lambda: db.update("automation_rules", rule, every_days=None))
    # The festivals calendar is a schedule of its own: no interval to give.
    db.automation.add_rule("festive", on="schedule", kind="customers", field="festivals", actions=tag)


def test_a_playbook_action_needs_the_playbook_s_steps():
    db = crm.open()
    start = [{"do": "playbook", "name": "onboarding"}]
    step = dict(on="playbook", playbook="onboarding", actions=[{"do": "tag", "add": ["onboarding"]}])
    refused(db, "automation_rules", "actions",
            lambda: db.automation.add_rule("start", on="created", kind="customers", actions=start))
    # Steps on another kind are not this playbook's steps on customers.
    db.automation.add_rule("contact step", kind="contacts", **step)
    refused(db, "automation_rules", "actions",
            lambda: db.automation.add_rule("start", on="created", kind="customers", actions=start))
    first = db.automation.add_rule("step 1", kind="customers", **step)
    starter = db.automation.add_rule("start", on="created", kind="customers", actions=start)
    second = db.automation.add_rule("step 2", kind="customers", **step)
    db.delete("automation_rules", second)                      # one step is left: fine
    err = refused(db, "automation_rules", "actions", lambda: db.delete("automation_rules", first))
    assert err.record_id == starter and "onboarding" in err.reason
    refused(db, "automation_rules", "actions", lambda: db.update("automation_rules", first, playbook="other"))
    db.delete("automation_rules", starter)                     # the starter first, then its steps
    db.delete("automation_rules", first)


def test_a_commission_band_needs_its_entry_rule():
    db = crm.open()
    p = db.add("customers", name="Reseller", is_partner=True)
    err = refused(db, "commission_rules", "tier_from",
                  lambda: db.add("commission_rules", partner_id=p, rate=0.05, tier_from=1000))
    assert "1000" in err.reason and "entry rule" in err.reason
    # An entry rule of another category, or in force only before the band, is no entry rule of this scale.
    db.add("commission_rules", partner_id=p, category="tools", rate=0.01)
    db.add("commission_rules", partner_id=p, rate=0.01, valid_until="2025-01-01")
    refused(db, "commission_rules", "tier_from",
            lambda: db.add("commission_rules", partner_id=p, rate=0.05, tier_from=1000, valid_from="2025-01-01"))
    entry = db.add("commission_rules", partner_id=p, rate=0.02, valid_from="2025-01-01")
    band = db.add("commission_rules", partner_id=p, rate=0.05, tier_from=1000, valid_from="2025-01-01")
    err = refused(db, "commission_rules", "tier_from", lambda: db.delete("commission_rules", entry))
    assert err.record_id == band
    other = db.add("customers", name="Other", is_partner=True)
    refused(db, "commission_rules", "tier_from", lambda: db.update("commission_rules", entry, partner_id=other))
    db.delete("commission_rules", band)                        # the band first, then its entry rule
    db.delete("commission_rules", entry)
