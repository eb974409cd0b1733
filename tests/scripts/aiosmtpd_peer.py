#!/usr/bin/env python3
"""aiosmtpd as a real SMTP (or LMTP) server on loopback, for smtp_proto_tests::peers::aiosmtpd.

Usage: aiosmtpd_peer.py --out FILE [--lmtp] [--smtputf8] [--auth USER:PASSWORD]...
                        [--auth-required] [--tls-cert PEM --tls-key PEM] [--require-starttls]
                        [--size BYTES] [--hostname NAME]

Binds 127.0.0.1 on a port the system picks and prints

    aiosmtpd_peer listening: 127.0.0.1:PORT

on stdout once it accepts connections. Runs until killed.

Each accepted message is appended to FILE as one JSON line (written and flushed before the
reply to the end of data is sent):

    {"mail_from": str, "rcpt_tos": [str], "rejected": [str], "mail_options": [str],
     "rcpt_options": [str], "login": str|null, "smtputf8": bool, "content_latin1": str}

`content_latin1` holds the message bytes exactly as received (after dot-unstuffing), one
character U+0000..U+00FF per byte. `rcpt_tos` are the recipients that were accepted;
`rejected` (LMTP only) those that failed at the end of data.

Test rule: any recipient whose local part starts with "fail" is refused: at RCPT with 550
in SMTP mode, and with its own 550 reply after the data in LMTP mode (the others get 250).
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def failing(address):
    local = address.rsplit("@", 1)[0] if "@" in address else address
    return local.lower().startswith("fail")


class Handler:
    def __init__(self, out_path, lmtp):
        self.out = open(out_path, "a", encoding="ascii")
        self.lmtp = lmtp

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.lmtp and failing(address):
            return "550 5.1.1 <%s>: recipient rejected by the test rule" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content
        if content is None:
            content = envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", errors="surrogateescape")
        accepted = []
        rejected = []
        replies = []
        for rcpt in envelope.rcpt_tos:
            if self.lmtp and failing(rcpt):
                rejected.append(rcpt)
                replies.append("550 5.1.1 <%s>: recipient rejected by the test rule" % rcpt)
            else:
                accepted.append(rcpt)
                replies.append("250 2.0.0 <%s> OK" % rcpt)
        if accepted:
            login = session.auth_data
            if isinstance(login, LoginPassword):
                login = login.login
            if isinstance(login, bytes):
                login = login.decode("utf-8", errors="replace")
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": accepted,
                "rejected": rejected,
                "mail_options": list(envelope.mail_options),
                "rcpt_options": list(envelope.rcpt_options),
                "login": login,
                "smtputf8": bool(envelope.smtp_utf8),
                "content_latin1": content.decode("latin-1"),
            }
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        if self.lmtp:
            return "\r\n".join(replies)
        return "250 2.0.0 OK: stored"


def make_authenticator(credentials):
    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", errors="replace")
        password = auth_data.password.decode("utf-8", errors="replace")
        if credentials.get(login) == password:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    return authenticator


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--lmtp", action="store_true")
    parser.add_argument("--smtputf8", action="store_true")
    parser.add_argument("--auth", action="append", default=[], metavar="USER:PASSWORD")
    parser.add_argument("--auth-required", action="store_true")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--size", type=int, default=33554432)
    parser.add_argument("--hostname", default="aiosmtpd.peer.example")
    args = parser.parse_args()

    # Session transcripts on stderr: the Rust side shows them when a test fails.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    kwargs = {
        "data_size_limit": args.size,
        "enable_SMTPUTF8": args.smtputf8,
        "decode_data": False,
        "hostname": args.hostname,
        "timeout": 60,
    }
    if args.auth:
        credentials = dict(pair.split(":", 1) for pair in args.auth)
        kwargs["authenticator"] = make_authenticator(credentials)
        # Plaintext AUTH is what the tests need; STARTTLS is a separate option.
        kwargs["auth_require_tls"] = False
        kwargs["auth_required"] = args.auth_required
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = args.require_starttls

    handler = Handler(args.out, args.lmtp)
    protocol = LMTP if args.lmtp else SMTP
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(lambda: protocol(handler, loop=loop, **kwargs),
                           host="127.0.0.1", port=0)
    )
    host, port = server.sockets[0].getsockname()[:2]
    print("aiosmtpd_peer listening: %s:%d" % (host, port), flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
