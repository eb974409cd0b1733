#!/usr/bin/env python3
"""Python smtplib as a real client of blackhole, driven by tests/tests/smtplib.rs.

Usage: smtplib_client.py SCENARIO HOST PORT [ARGS...]

Each scenario prints one JSON object on stdout and exits 0, or prints a message on
stderr and exits non-zero. The Rust test asserts on the JSON and on the Maildir.
"""

import base64
import json
import re
import smtplib
import ssl
import sys

TIMEOUT = 20


def tls_context():
    # blackhole presents a self-signed certificate generated at start.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read(path):
    with open(path, "rb") as f:
        return f.read()


def features(client):
    return sorted(client.esmtp_features.keys())


def plain(host, port, msg, sender, rcpt):
    with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as c:
        c.ehlo("client.example")
        refused = c.sendmail(sender, [rcpt], read(msg))
        return {"features": features(c), "refused": refused}


def starttls_login(host, port, user, password, msg, sender, rcpt):
    with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as c:
        c.ehlo("client.example")
        before = features(c)
        code, _ = c.starttls(context=tls_context())
        c.ehlo("client.example")
        after = features(c)
        auth = c.esmtp_features.get("auth", "")
        # AUTH LOGIN explicitly (login() would pick PLAIN): the two-step exchange.
        c.user, c.password = user, password
        login_code, _ = c.auth("LOGIN", c.auth_login)
        refused = c.sendmail(sender, [rcpt], read(msg))
        return {
            "features_before": before,
            "features_after": after,
            "auth_mechanisms": auth.upper().split(),
            "starttls": code,
            "login": login_code,
            "refused": refused,
        }


def smtputf8(host, port, msg, sender, rcpt):
    with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as c:
        c.ehlo("client.example")
        if not c.has_extn("smtputf8"):
            raise SystemExit("SMTPUTF8 not advertised: %r" % features(c))
        refused = c.sendmail(sender, [rcpt], read(msg), mail_options=["SMTPUTF8"])
        return {"features": features(c), "refused": refused}


def implicit_tls(host, port, user, password, msg, sender, rcpt):
    with smtplib.SMTP_SSL(host, int(port), timeout=TIMEOUT, context=tls_context()) as c:
        c.ehlo("client.example")
        feats = features(c)
        login_code, _ = c.login(user, password)
        refused = c.sendmail(sender, [rcpt], read(msg))
        return {
            "features": feats,
            "cipher": list(c.sock.cipher()),
            "version": c.sock.version(),
            "login": login_code,
            "refused": refused,
        }


def lmtp(host, port, msg, sender, *rcpts):
    # smtplib.LMTP reads only one reply after the data; LMTP sends one per accepted
    # recipient (RFC 2033 section 4.2), so the DATA phase is driven by hand.
    c = smtplib.LMTP(host, int(port), timeout=TIMEOUT)
    try:
        code, _ = c.ehlo("client.example")  # LMTP.ehlo sends LHLO
        if code != 250:
            raise SystemExit("LHLO refused: %d" % code)
        mail, _ = c.mail(sender)
        rcpt = [c.rcpt(r)[0] for r in rcpts]
        c.putcmd("data")
        data, _ = c.getreply()
        if data != 354:
            raise SystemExit("DATA refused: %d" % data)
        body = re.sub(rb"(?m)^\.", b"..", read(msg))
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        c.send(body + b".\r\n")
        results = []
        for _ in rcpts:
            code, text = c.getreply()
            results.append([code, text.decode("utf-8", "replace")])
        c.quit()
        return {"mail": mail, "rcpt": rcpt, "data": data, "results": results}
    finally:
        c.close()


def auth_before_tls(host, port, user, password):
    with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as c:
        c.ehlo("client.example")
        advertised = c.has_extn("auth")
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        code, text = c.docmd("AUTH", "PLAIN " + token.decode())
        return {
            "auth_advertised": advertised,
            "starttls_advertised": c.has_extn("starttls"),
            "code": code,
            "message": text.decode("utf-8", "replace"),
        }


def wrong_password(host, port, user, password):
    with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as c:
        c.ehlo("client.example")
        c.starttls(context=tls_context())
        c.ehlo("client.example")
        try:
            c.login(user, password)
        except smtplib.SMTPAuthenticationError as e:
            return {"code": e.smtp_code, "message": e.smtp_error.decode("utf-8", "replace")}
        raise SystemExit("login with a wrong password succeeded")


SCENARIOS = {
    "plain": plain,
    "starttls_login": starttls_login,
    "smtputf8": smtputf8,
    "implicit_tls": implicit_tls,
    "lmtp": lmtp,
    "auth_before_tls": auth_before_tls,
    "wrong_password": wrong_password,
}


def main(argv):
    if len(argv) < 2 or argv[1] not in SCENARIOS:
        raise SystemExit("usage: smtplib_client.py {%s} HOST PORT ..." % "|".join(SCENARIOS))
    result = SCENARIOS[argv[1]](*argv[2:])
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
