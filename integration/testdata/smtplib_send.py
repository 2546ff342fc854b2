"""Send messages through the relay with Python's smtplib, as Python web
applications (Django's SMTP backend, for one) do.

Usage: /usr/bin/python3 smtplib_send.py < deliveries.json

Standard input is a JSON list of deliveries, each {"test_id", "mode", "port",
"mechanism", "user", "password", "to"}; the password travels on stdin, never
in argv. "mode" is "starttls" (smtplib.SMTP, then starttls()) or "ssl"
(smtplib.SMTP_SSL, implicit TLS). "mechanism" is "" for smtplib's own choice
in login(), or "PLAIN" or "LOGIN" to force one through auth(). Certificates
are not checked: the relay's is self-signed, as for an app pointed at a
relay on the same host. Prints a JSON list with, per delivery,
{"test_id", "ehlo": the EHLO keywords after TLS, "auth": the mechanism's
reply code}. Any failure raises and exits non-zero.
"""

import json
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


def build(test_id, to):
    msg = EmailMessage()
    msg["From"] = "Bücherei <notifications@example.org>"
    msg["To"] = ", ".join(to)
    msg["Subject"] = "Ihre Vormerkung ist da – %s ✓" % test_id
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg["X-Test-ID"] = test_id
    msg.set_content("Das Buch „Straße der Ölmühlen“ liegt für Sie bereit.\n")
    msg.add_alternative("<p>Das Buch <b>„Straße der Ölmühlen“</b> liegt für Sie bereit.</p>\n", subtype="html")
    return msg


def send(d):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if d["mode"] == "ssl":
        client = smtplib.SMTP_SSL("127.0.0.1", d["port"], local_hostname="app.example.org",
                                  context=context, timeout=30)
        client.ehlo()
    else:
        client = smtplib.SMTP("127.0.0.1", d["port"], local_hostname="app.example.org", timeout=30)
        client.ehlo()
        if not client.has_extn("starttls"):
            raise RuntimeError("the relay does not offer STARTTLS")
        client.starttls(context=context)
        client.ehlo()
    ehlo = sorted(client.esmtp_features)
    mech = d["mechanism"]
    client.user, client.password = d["user"], d["password"]
    if mech == "":
        code, _ = client.login(d["user"], d["password"])
    elif mech == "PLAIN":
        code, _ = client.auth("PLAIN", client.auth_plain)
    elif mech == "LOGIN":
        code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
    else:
        raise ValueError("unknown mechanism %r" % mech)
    refused = client.send_message(build(d["test_id"], d["to"]), from_addr="notifications@example.org",
                                  to_addrs=d["to"])
    if refused:
        raise RuntimeError("recipients refused: %r" % refused)
    client.quit()
    return {"test_id": d["test_id"], "ehlo": ehlo, "auth": code}


def main():
    json.dump([send(d) for d in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
