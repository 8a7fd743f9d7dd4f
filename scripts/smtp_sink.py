#!/usr/bin/env python3
"""The SMTP server of the test rig (aiosmtpd, loopback only).

It behaves like a service's relay in the two ways the tests need:
* every accepted message is kept in one Maildir (the "outside world" the tests read
  to count what citizens received), with X-Peer / X-MailFrom / X-RcptTo headers like
  aiosmtpd's own Mailbox handler;
* recipients in a local domain get the message delivered into their Dovecot Maildir
  (INBOX), as a real relay's local delivery (Postfix + Dovecot LMTP) would. Facteur
  sends a copy of each reply to the service's own address and uses that copy as the
  server-side proof that a reply left (see crates/connect/src/smtp.rs);
* recipients in the domain refused.test are refused at RCPT TO with Postfix's
  wording, which quotes the address ("550 5.1.1 <x@refused.test>: Recipient address
  rejected: User unknown"), as real relays do (tests check it is not kept unmasked).

A message is written (and fsync'd) before the 250 is returned, like a real MTA's
queue: once the client has its 250, the message exists.

Usage: smtp_sink.py HOST PORT MAILDIR DOVECOT_MAIL_ROOT LOCAL_DOMAINS(comma-separated)
"""
import asyncio
import itertools
import os
import pwd
import socket
import sys
import time

from aiosmtpd.smtp import SMTP

REFUSED_DOMAIN = "refused.test"


_SEQ = itertools.count()


def _write_maildir(root, data, owner=None):
    for sub in ("tmp", "new", "cur"):
        d = os.path.join(root, sub)
        if not os.path.isdir(d):
            os.makedirs(d, exist_ok=True)
            if owner:
                os.chown(d, *owner)
    if owner and os.stat(root).st_uid != owner[0]:
        os.chown(root, *owner)
    # Unique per file: the nanosecond part alone repeated about once in a
    # hundred thousand pairs, and a second file of that name replaced the first
    # (one reply in 1,000 "lost" by the rig in a scale run).
    name = "%d.M%dQ%dP%d.%s" % (time.time(), time.time_ns() % 1_000_000_000, next(_SEQ), os.getpid(), socket.gethostname())
    tmp = os.path.join(root, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if owner:
        os.chown(tmp, *owner)
    os.rename(tmp, os.path.join(root, "new", name))


class Handler:
    def __init__(self, maildir, dovecot_root, local_domains):
        self.maildir = maildir
        self.dovecot_root = dovecot_root
        self.local_domains = {d.strip().lower() for d in local_domains.split(",") if d.strip()}
        try:
            pw = pwd.getpwnam("nobody")
            self.owner = (pw.pw_uid, pw.pw_gid)
        except KeyError:
            self.owner = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.rpartition("@")[2].lower() == REFUSED_DOMAIN:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        head = "X-Peer: %s\r\nX-MailFrom: %s\r\nX-RcptTo: %s\r\n" % (
            session.peer[0] if session.peer else "?",
            envelope.mail_from,
            ", ".join(envelope.rcpt_tos),
        )
        _write_maildir(self.maildir, head.encode() + data)
        for rcpt in envelope.rcpt_tos:
            _, _, domain = rcpt.rpartition("@")
            if domain.lower() in self.local_domains:
                user = rcpt.lower()
                if "/" in user or user.startswith("."):
                    continue
                _write_maildir(os.path.join(self.dovecot_root, user), data, self.owner)
        return "250 OK"


def main():
    host, port, maildir, dovecot_root, local_domains = sys.argv[1:6]
    handler = Handler(maildir, dovecot_root, local_domains)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True), host, int(port))
    )
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
