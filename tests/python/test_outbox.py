"""The outbox sender against real SMTP servers on loopback (aiosmtpd), started
and stopped by the tests: one that accepts, one that refuses, one that
vanishes mid-batch. Nothing is sent twice, nothing is lost."""
import email
import socket
import time

import pandas as pd
import pytest

import crmcore as crm

aiosmtpd = pytest.importorskip("aiosmtpd.controller")

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An SMTP handler that keeps what it accepts; refuses some recipients;
    can drop the connection instead of answering the n-th message."""

    def __init__(self, refuse=(), temporary=(), vanish_at=None):
        self.received, self.refuse, self.temporary, self.vanish_at = [], set(refuse), set(temporary), vanish_at

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        if address in self.temporary:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.vanish_at is not None and len(self.received) + 1 == self.vanish_at:
            server.transport.close()  # gone before saying whether it took the message
            return "421 closing"
        self.received.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    servers = []

    def start(handler):
        controller = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=_free_port())
        controller.start()
        servers.append(controller)
        return controller.hostname, controller.port

    yield start
    for c in servers:
        c.stop()


def _queued(db, addresses):
    c = db.add("customers", name="Acme")
    db.automation.add_rule("mail", on="created", kind="contacts",
                           actions=[{"do": "message", "subject": "Hello {name}", "body": "Dear {name}"}])
    db.import_frame("contacts", pd.DataFrame({"name": [a.split("@")[0] for a in addresses], "email": addresses}))
    return c


def test_sends_each_queued_message_once(smtp):
    db = crm.open()
    _queued(db, ["a@x.org", "b@x.org", "c@x.org"])
    inbox = Inbox()
    host, port = smtp(inbox)
    assert db.automation.send_outbox(host, port, sender="shop@x.org") == {"sent": 3, "failed": 0, "retry": 0, "left": 0}
    assert [m["To"] for m in inbox.received] == ["a@x.org", "b@x.org", "c@x.org"]
    assert [m["Subject"] for m in inbox.received] == ["Hello a", "Hello b", "Hello c"]
    assert inbox.received[0].get_payload().strip() == "Dear a"
    box = db.automation.outbox()
    assert (box["status"] == "sent").all() and box["sent_at"].notna().all() and (box["attempts"] == 1).all()
    assert [m["Message-ID"] for m in inbox.received] == box["message_id"].tolist()
    # Sending again sends nothing.
    assert db.automation.send_outbox(host, port, sender="shop@x.org")["sent"] == 0
    assert len(inbox.received) == 3


def test_refusals_are_recorded_and_temporary_ones_retried(smtp):
    db = crm.open()
    _queued(db, ["ok@x.org", "gone@x.org", "busy@x.org"])
    inbox = Inbox(refuse={"gone@x.org"}, temporary={"busy@x.org"})
    host, port = smtp(inbox)
    got = db.automation.send_outbox(host, port, sender="shop@x.org", max_attempts=2)
    assert got == {"sent": 1, "failed": 1, "retry": 1, "left": 0}
    box = db.automation.outbox().set_index("to_address")
    assert box.loc["gone@x.org", "status"] == "failed" and "550" in box.loc["gone@x.org", "error"]
    assert box.loc["busy@x.org", "status"] == "queued" and "451" in box.loc["busy@x.org", "error"]
    # The second attempt is the last one allowed.
    got = db.automation.send_outbox(host, port, sender="shop@x.org", max_attempts=2)
    assert got == {"sent": 0, "failed": 1, "retry": 0, "left": 0}
    box = db.automation.outbox().set_index("to_address")
    assert box.loc["busy@x.org", "status"] == "failed" and box.loc["busy@x.org", "attempts"] == 2
    assert [m["To"] for m in inbox.received] == ["ok@x.org"]


def test_a_server_that_vanishes_mid_batch_loses_nothing_and_repeats_nothing(smtp):
    db = crm.open()
    addresses = [f"p{i}@x.org" for i in range(6)]
    _queued(db, addresses)
    first = Inbox(vanish_at=3)
    host, port = smtp(first)
    got = db.automation.send_outbox(host, port, sender="shop@x.org")
    assert got["sent"] == 2 and got["retry"] == 1 and got["left"] == 3
    box = db.automation.outbox().set_index("to_address")
    assert "connection lost" in box.loc["p2@x.org", "error"] and box.loc["p2@x.org", "status"] == "queued"
    # No server at all: the queue waits untouched.
    with pytest.raises(ConnectionError):
        db.automation.send_outbox("127.0.0.1", _free_port(), sender="shop@x.org", timeout=2)
    second = Inbox()
    host, port = smtp(second)
    assert db.automation.send_outbox(host, port, sender="shop@x.org")["sent"] == 4
    delivered = [m["To"] for m in first.received + second.received]
    assert sorted(delivered) == addresses  # each once
    assert (db.automation.outbox()["status"] == "sent").all()


def test_sms_and_wechat_messages_are_records_for_a_gateway_and_smtp_leaves_them(smtp):
    db = crm.open()
    db.automation.add_rule("texts", on="created", kind="contacts",
                           actions=[{"do": "message", "channel": "sms", "body": "Hi {name}"},
                                    {"do": "message", "channel": "wechat", "body": "Welcome {name}"},
                                    {"do": "message", "subject": "Hello", "body": "Dear {name}"}])
    db.import_frame("contacts", pd.DataFrame({"name": ["Li", "Wu"], "phone": ["13912345678", None],
                                              "email": ["li@x.org", "wu@x.org"]}))
    box = db.automation.outbox().sort_values(["channel", "record_id"])
    texts = box[box["channel"] != "email"]
    # By hand: one SMS and one WeChat message per contact, to its phone; none without a phone.
    assert texts["channel"].tolist() == ["sms", "sms", "wechat", "wechat"]
    assert texts["body"].tolist() == ["Hi Li", "Hi Wu", "Welcome Li", "Welcome Wu"]
    assert texts["status"].tolist() == ["queued", "failed", "queued", "failed"]
    assert texts["to_address"].notna().sum() == 2 and texts["error"].notna().sum() == 2
    inbox = Inbox()
    host, port = smtp(inbox)
    assert db.automation.send_outbox(host, port, sender="shop@x.org")["sent"] == 2
    after = db.automation.outbox()
    assert after.loc[texts.index, "status"].tolist() == texts["status"].tolist()  # left to the gateway


class Overlapping(Inbox):
    """Accepts; while the first message's DATA is being answered, a second
    sender (another handle on the same file, as a second cron run would be)
    drains the same outbox through another server."""

    def __init__(self, path, other):
        super().__init__()
        self.path, self.other, self.second = path, other, None

    async def handle_DATA(self, server, session, envelope):
        if self.second is None:
            with crm.open(self.path) as db2:
                self.second = db2.automation.send_outbox(*self.other, sender="shop@x.org")
        return await super().handle_DATA(server, session, envelope)


def test_two_senders_at_once_send_each_message_once(smtp, tmp_path, backend, request):
    # Both senders read the queue; each message goes to the one that claimed
    # it. The second used to send again the message the first was sending,
    # and the first the ones the second had sent meanwhile. On PostgreSQL
    # the claim's transaction holds the store's write lock (Dialect::begin_write)
    # as SQLite's holds its file's.
    path = tmp_path / "o.crm" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    addresses = [f"p{i}@x.org" for i in range(5)]
    with crm.open(path) as db:
        _queued(db, addresses)
    other = Inbox()
    first = Overlapping(path, smtp(other))
    host, port = smtp(first)
    with crm.open(path) as db:
        got = db.automation.send_outbox(host, port, sender="shop@x.org")
        box = db.automation.outbox()
    assert first.second == {"sent": 4, "failed": 0, "retry": 0, "left": 0}  # p0 is the first's
    assert got == {"sent": 1, "failed": 0, "retry": 0, "left": 4}
    assert [m["To"] for m in first.received] == ["p0@x.org"]
    assert sorted(m["To"] for m in other.received) == addresses[1:]
    assert (box["status"] == "sent").all() and (box["attempts"] == 1).all()


def test_a_message_left_sending_by_a_sender_that_stopped_goes_again_once_stale(smtp):
    db = crm.open()
    _queued(db, ["a@x.org"])
    oid = int(db.automation.outbox().index[0])
    db.update("outbox", oid, status="sending", attempts=1)  # as a sender killed mid-message leaves it
    inbox = Inbox()
    host, port = smtp(inbox)
    assert db.automation.send_outbox(host, port, sender="shop@x.org")["sent"] == 0  # maybe still being sent
    assert db.automation.send_outbox(host, port, sender="shop@x.org", stale_after=0)["sent"] == 1
    assert [m["To"] for m in inbox.received] == ["a@x.org"]
    assert db.automation.outbox().loc[oid, "attempts"] == 2


def test_sent_at_is_on_the_store_s_clock_in_any_time_zone(smtp, monkeypatch):
    # sent_at was the local wall clock written as if UTC: in Beijing, eight
    # hours after the message's own updated_at.
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        db = crm.open()
        _queued(db, ["a@x.org"])
        host, port = smtp(Inbox())
        assert db.automation.send_outbox(host, port, sender="shop@x.org")["sent"] == 1
        box = db.automation.outbox()
        assert abs(box["sent_at"] - box["updated_at"]).max() < pd.Timedelta(minutes=5)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_run_due_sends_through_the_host_and_port_given(smtp, tmp_path):
    from crmcore import cli

    inbox = Inbox()
    host, port = smtp(inbox)
    store = tmp_path / "s.crm"
    db = crm.open(store)
    db.add("customers", name="Acme", email="a@example.com")
    db.automation.add_rule("daily", on="schedule", kind="customers", every_days=1,
                           actions=[{"do": "message", "subject": "hello", "body": "x"}])
    assert cli.main(["run-due", str(store), "--now", "2025-01-02", "--send", f"{host}:{port}"]) == cli.OK
    assert [m["To"] for m in inbox.received] == ["a@example.com"]
