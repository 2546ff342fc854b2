"""Verify every DKIM-Signature of each message file with dkimpy.

Usage: /usr/bin/python3 dkimverify.py DNS-SERVER MESSAGE-FILE...

DNS-SERVER is "127.0.0.1:port", the integration tests' DNS server: keys are
looked up there with dnspython (a dependency of dkimpy), never in real DNS.
Prints a JSON list with one entry per file, in argument order; each entry
lists the file's signatures in header order as
{"s": selector, "a": algorithm, "pass": bool, "result": text}.
One process checks the whole batch, so the interpreter starts once.
"""

import json
import sys

import dkim
import dns.exception
import dns.resolver


def make_dnsfunc(server):
    host, port = server.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        try:
            answer = resolver.resolve(name, "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        # A record's character-strings are one value (RFC 6376 section
        # 3.6.2.2); a key record is a single TXT record.
        return b"".join(answer[0].strings)

    return dnsfunc


def verify_file(path, dnsfunc):
    with open(path, "rb") as f:
        message = f.read()
    count = sum(1 for k, _ in dkim.DKIM(message).headers if k.lower() == b"dkim-signature")
    results = []
    for idx in range(count):
        d = dkim.DKIM(message)
        ok, result = False, ""
        try:
            ok = bool(d.verify(idx=idx, dnsfunc=dnsfunc))
            result = "pass" if ok else "fail"
        except Exception as e:  # dkimpy raises for malformed signatures and keys
            result = "error: %s: %s" % (type(e).__name__, e)
        fields = {k.decode(): v.decode(errors="replace") for k, v in (d.signature_fields or {}).items()}
        results.append({
            "s": fields.get("s", ""),
            "a": fields.get("a", ""),
            "pass": ok,
            "result": result,
        })
    return results


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: dkimverify.py DNS-SERVER MESSAGE-FILE...")
    dnsfunc = make_dnsfunc(sys.argv[1])
    json.dump([verify_file(p, dnsfunc) for p in sys.argv[2:]], sys.stdout)


if __name__ == "__main__":
    main()
