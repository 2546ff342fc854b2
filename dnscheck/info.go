package dnscheck

import (
	"context"
	"fmt"
	"strings"
)

// checkMTASTS reports the domain's MTA-STS record (RFC 8461 section 3.1).
// It protects mail sent to the domain, not the relay's, so it is
// information only.
func checkMTASTS(ctx context.Context, r *Report, o Options) {
	name := "_mta-sts." + o.Domain
	rec, problem := txtWithPrefix(ctx, o, name, "v=STSv1")
	res := Result{Check: "mta-sts", Status: Info}
	switch {
	case problem != "":
		res.Message = problem
	case rec == "":
		res.Message = fmt.Sprintf("%s publishes no MTA-STS policy (optional: it makes senders use TLS to %s's own MX; it also needs a policy file at https://mta-sts.%s/.well-known/mta-sts.txt)", o.Domain, o.Domain, o.Domain)
		res.Record = fmt.Sprintf("%s. IN TXT %s", name, quoteTXT("v=STSv1; id=1"))
	default:
		res.Message = fmt.Sprintf("%s publishes %s", name, quoteTXT(rec))
	}
	r.add(res)
}

// checkTLSRPT reports the domain's TLS-RPT record (RFC 8460 section 3),
// information only as well.
func checkTLSRPT(ctx context.Context, r *Report, o Options) {
	name := "_smtp._tls." + o.Domain
	rec, problem := txtWithPrefix(ctx, o, name, "v=TLSRPTv1")
	res := Result{Check: "tls-rpt", Status: Info}
	switch {
	case problem != "":
		res.Message = problem
	case rec == "":
		res.Message = fmt.Sprintf("%s publishes no TLS-RPT record (optional: senders would report TLS failures on their way to %s)", o.Domain, o.Domain)
		res.Record = fmt.Sprintf("%s. IN TXT %s", name, quoteTXT("v=TLSRPTv1; rua=mailto:tls-reports@"+o.Domain))
	default:
		res.Message = fmt.Sprintf("%s publishes %s", name, quoteTXT(rec))
	}
	r.add(res)
}

func txtWithPrefix(ctx context.Context, o Options, name, prefix string) (string, string) {
	txts, err := o.Resolver.LookupTXT(ctx, name)
	if err != nil {
		if p, notFound := lookupProblem(err); !notFound {
			return "", p
		}
	}
	for _, t := range txts {
		if strings.HasPrefix(t, prefix) {
			return t, ""
		}
	}
	return "", ""
}
