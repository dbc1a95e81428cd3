"""The outbox sender: queued e-mails go out over SMTP (Python's smtplib).

Each message is marked ``sending`` (and its attempt counted) in the store
before it is handed to the server, and ``sent`` only once the server has
accepted it (its reply to DATA), so that a server that refuses or vanishes
leaves a record of what happened: nothing is marked sent that was not
accepted, and a message the server accepted is never sent again. Every
message carries a Message-ID made from its outbox id, so a receiver can drop
a repeat of the one message whose fate a vanished connection left open.
Two senders at once (a cron run overlapping a slow one) do not both send a
message: each claims a message in a transaction, only if it is still as it
read it, and a message another sender is sending (``sending`` for less than
``stale_after`` seconds) is left to it.
SMS and WeChat messages stay in the outbox for an outside gateway.
"""
from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from typing import Any

import pandas as pd

from .scoring._columns import utc_now

# Errors after which the connection cannot be trusted: the rest of the batch waits.
_GONE = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.timeout, OSError)


def message_id(outbox_id: int, domain: str = "crmcore.local") -> str:
    """The Message-ID of an outbox message: the same on every attempt.

    >>> message_id(42)
    '<outbox-42@crmcore.local>'
    """
    return f"<outbox-{int(outbox_id)}@{domain}>"


def send(db: Any, host: str = "localhost", port: int = 25, *, sender: str, max_attempts: int = 3,
         timeout: float = 10.0, username: str | None = None, password: str | None = None,
         starttls: bool = False, limit: int | None = None, stale_after: float = 600.0) -> dict:
    """Sends the queued (and interrupted ``sending``) e-mails of the outbox
    through the SMTP server at ``host``:``port``, one connection for the
    batch. A refusal with a 5xx code fails the message at once; a 4xx code or
    a lost connection puts it back in the queue until ``max_attempts`` have
    been made, then fails it; the error is kept. A lost connection ends the
    batch (the rest stay queued for the next call). A message marked
    ``sending`` more than ``stale_after`` seconds ago was left so by a sender
    that stopped, and is sent again; a younger one is left to its sender,
    and one another sender took after this one read the queue is counted in
    ``left``.
    Returns counts: ``sent``, ``failed``, ``retry`` (back in the queue),
    ``left`` (not tried).

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> db.automation.send_outbox("127.0.0.1", 9, sender="shop@example.com")
    {'sent': 0, 'failed': 0, 'retry': 0, 'left': 0}
    """
    queue = db.frame("outbox", filters=[("channel", "==", "email"), ("status", "in", ["queued", "sending"])],
                     columns=["to_address", "subject", "body", "attempts", "message_id", "status", "updated_at"])
    queue = queue[(queue["status"] == "queued") | (queue["updated_at"] < _stale_before(stale_after))]
    if limit is not None:
        queue = queue.iloc[: int(limit)]
    counts = {"sent": 0, "failed": 0, "retry": 0, "left": len(queue)}
    if queue.empty:
        return counts
    try:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    except _GONE as e:
        # Nothing was handed over: the messages wait, untouched, for the next call.
        raise ConnectionError(f"cannot reach the SMTP server {host}:{port}: {e}") from e
    try:
        if starttls:
            smtp.starttls()
        if username is not None:
            smtp.login(username, password or "")
        for oid, m in queue.iterrows():
            attempts = int(m["attempts"]) + 1 if pd.notna(m["attempts"]) else 1
            mid = m["message_id"] if isinstance(m["message_id"], str) else message_id(oid)
            if not _claim(db, int(oid), attempts - 1, mid, stale_after):
                continue  # another sender has it (or had it since the queue was read)
            counts["left"] -= 1
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"], mail["Message-ID"] = sender, m["to_address"], m["subject"] or "", mid
            mail.set_content(m["body"] or "")
            try:
                smtp.send_message(mail)
            except smtplib.SMTPResponseException as e:
                _failed(db, oid, attempts, max_attempts, f"{e.smtp_code} {_text(e.smtp_error)}", e.smtp_code >= 500, counts)
                continue
            except smtplib.SMTPRecipientsRefused as e:
                code, reply = next(iter(e.recipients.values()))
                _failed(db, oid, attempts, max_attempts, f"{code} {_text(reply)}", code >= 500, counts)
                continue
            except _GONE as e:
                _failed(db, oid, attempts, max_attempts, f"connection lost: {e}", False, counts)
                break
            # The store's own times (created_at, updated_at) are UTC: sent_at is too.
            db.update("outbox", int(oid), status="sent", sent_at=pd.Timestamp.now(tz="UTC"), error=None)
            counts["sent"] += 1
    finally:
        try:
            smtp.quit()
        except _GONE + (smtplib.SMTPException,):
            smtp.close()
    return counts


def _stale_before(stale_after: float) -> pd.Timestamp:
    """The moment before which a ``sending`` mark is taken as left by a
    sender that stopped (the store's times are UTC)."""
    return utc_now() - pd.Timedelta(seconds=stale_after)


def _claim(db: Any, oid: int, tried: int, mid: str, stale_after: float) -> bool:
    """Marks the message ``sending`` with its attempt counted, in one
    transaction and only if it still waits as the queue showed it (queued,
    or sending but stale, after ``tried`` attempts); False when another
    sender has taken it meanwhile."""
    with db.transaction():
        now = db.frame("outbox", ids=[oid], columns=["status", "attempts", "updated_at"]).iloc[0]
        waiting = now["status"] == "queued" or (now["status"] == "sending"
                                                and now["updated_at"] < _stale_before(stale_after))
        if not waiting or (int(now["attempts"]) if pd.notna(now["attempts"]) else 0) != tried:
            return False
        db.update("outbox", oid, status="sending", attempts=tried + 1, message_id=mid)
    return True


def _text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _failed(db: Any, oid: Any, attempts: int, max_attempts: int, error: str, permanent: bool, counts: dict) -> None:
    final = permanent or attempts >= max_attempts
    db.update("outbox", int(oid), status="failed" if final else "queued", error=error)
    counts["failed" if final else "retry"] += 1
