"""Evaluates SPF cases with pyspf (Debian's python3-spf), an evaluator
independent of the relay's, against the test DNS server.

Input on stdin, JSON: {"server": "127.0.0.1", "port": 5353, "helo": "...",
"cases": [{"ip": "...", "sender": "..."}]}. Output on stdout, JSON: one
{"result": "...", "explanation": "..."} per case, in order.

pyspf must run on dnspython (Debian's python3-dnspython): its other DNS
backend, pydns (python3-dns), reads a SERVFAIL over UDP as an empty answer,
so the temperror cases would differ for a reason that is not SPF's.
"""
import json
import sys
import warnings

warnings.simplefilter("ignore")  # dns.resolver.query is deprecated

import dns.resolver
import spf

req = json.load(sys.stdin)
res = dns.resolver.Resolver(configure=False)
res.nameservers = [req["server"]]
res.port = req["port"]
res.timeout = 2
res.lifetime = 5
res.cache = None
# pyspf asks through the module-level dns.resolver.query, which uses the
# default resolver.
dns.resolver.default_resolver = res
spf.DNSLookup = spf.DNSLookup_dnspython

out = []
for case in req["cases"]:
    result, _code, explanation = spf.query(i=case["ip"], s=case["sender"], h=req["helo"], querytime=10).check()
    out.append({"result": result, "explanation": explanation})
json.dump(out, sys.stdout)
