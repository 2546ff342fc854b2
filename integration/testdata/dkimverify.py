"""Verify every DKIM-Signature of the message on stdin with dkimpy.

Usage: python3 dkimverify.py RECORDS.json < message

RECORDS.json maps "selector._domainkey.domain" to the TXT record value the
Go test read from its DNS server, so no real DNS is ever asked. Prints a
JSON list with one object per signature, in header order:
{"d": domain, "s": selector, "a": algorithm, "ok": bool, "error": text}.
"""

import json
import sys

import dkim


def main():
    with open(sys.argv[1]) as f:
        records = {k.lower().rstrip("."): v for k, v in json.load(f).items()}
    message = sys.stdin.buffer.read()

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        value = records.get(name.lower().rstrip("."))
        return value.encode("ascii") if value is not None else None

    verifier = dkim.DKIM(message)
    count = sum(1 for k, _ in verifier.headers if k.lower() == b"dkim-signature")
    results = []
    for idx in range(count):
        d = dkim.DKIM(message)
        ok, error = False, ""
        try:
            ok = bool(d.verify(idx=idx, dnsfunc=dnsfunc))
        except Exception as e:  # dkimpy raises for malformed signatures
            error = "%s: %s" % (type(e).__name__, e)
        fields = {k.decode(): v.decode(errors="replace") for k, v in (d.signature_fields or {}).items()}
        results.append({
            "d": fields.get("d", ""),
            "s": fields.get("s", ""),
            "a": fields.get("a", ""),
            "ok": ok,
            "error": error,
        })
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
