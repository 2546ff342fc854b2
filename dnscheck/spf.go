package dnscheck

import (
	"context"
	"fmt"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"

	"dkimrelay/authcheck"
	"dkimrelay/config"
	"dkimrelay/resolver"
)

// maxLookups is RFC 7208 section 4.6.4's limit on the terms of an
// evaluation that cause DNS lookups.
const maxLookups = 10

func checkSPF(ctx context.Context, r *Report, o Options) {
	records, problem := spfRecord(ctx, o.Resolver, o.Domain)
	record := ""
	var terms []authcheck.SPFTerm
	switch {
	case problem != "":
		r.add(Result{Check: "spf", Status: Fail, Required: true, Message: problem})
	case len(records) == 0:
		res := Result{Check: "spf", Status: Fail, Required: true, Message: fmt.Sprintf(
			"%s publishes no SPF record, so receivers cannot tell the relay's mail from forgeries", o.Domain)}
		if len(o.EgressIPs) > 0 {
			res.Record = spfZone(o.Domain, repairSPF("", o.EgressIPs))
		}
		r.add(res)
	case len(records) > 1:
		r.add(Result{Check: "spf", Status: Fail, Required: true, Record: spfZone(o.Domain, mergeSPF(records)), Message: fmt.Sprintf(
			"%s publishes %d SPF records, which is a permerror (RFC 7208 section 3.2): replace them by one", o.Domain, len(records))})
	default:
		record = records[0]
		var err error
		terms, err = authcheck.ParseSPF(record)
		if err != nil {
			r.add(Result{Check: "spf", Status: Fail, Required: true, Record: spfZone(o.Domain, repairSPF(record, o.EgressIPs)), Message: fmt.Sprintf(
				"the SPF record of %s has %v, so receivers treat every message as permerror", o.Domain, err)})
			break
		}
		r.add(Result{Check: "spf", Status: Pass, Required: true, Message: fmt.Sprintf("%s publishes %s", o.Domain, quoteTXT(record))})
		r.add(countLookups(ctx, o.Resolver, o.Domain, terms))
	}

	if len(o.EgressIPs) == 0 {
		if o.Mode == config.ModeSmarthost {
			r.add(Result{Check: "spf-ip", Status: Info, Message: "smarthost mode without delivery.egress_ips: receivers see the smarthost's addresses, so " +
				o.Domain + "'s SPF record must include the smarthost provider's (the \"include:\" term its documentation names)"})
		} else {
			r.add(Result{Check: "spf-ip", Status: Warning, Message: o.EgressNote})
		}
		return
	}
	results := make([]authcheck.SPFResult, len(o.EgressIPs))
	var unauthorized []net.IP
	for i, ip := range o.EgressIPs {
		results[i] = authcheck.Evaluate(ctx, o.Resolver, o.Hostname, ip, "postmaster@"+o.Domain)
		if results[i].Result != spf.Pass && results[i].Result != spf.TempError && results[i].Result != spf.PermError {
			unauthorized = append(unauthorized, ip)
		}
	}
	fix := ""
	if len(unauthorized) > 0 {
		fix = spfZone(o.Domain, repairSPF(record, unauthorized))
	}
	for _, res := range results {
		out := Result{Check: "spf-ip", Required: true}
		switch res.Result {
		case spf.Pass:
			out.Status, out.Message = Pass, fmt.Sprintf("%s may send for %s (pass: %s)", res.IP, o.Domain, res.Reason())
		case spf.TempError:
			out.Status, out.Message = Fail, fmt.Sprintf("SPF of %s for %s could not be evaluated (temperror: %s); try again later", o.Domain, res.IP, res.Reason())
		case spf.PermError:
			out.Status, out.Message = Fail, fmt.Sprintf("SPF of %s for %s is a permerror: %s", o.Domain, res.IP, res.Reason())
		default:
			out.Status, out.Record = Fail, fix
			out.Message = fmt.Sprintf("%s is not authorized to send for %s (%s: %s); add %q to the record", res.IP, o.Domain, res.Result, res.Reason(), res.Mechanism())
		}
		r.add(out)
	}
}

// spfRecord returns the domain's SPF records, or why they could not be
// looked up.
func spfRecord(ctx context.Context, res *resolver.Resolver, domain string) (records []string, problem string) {
	txts, err := res.LookupTXT(ctx, domain)
	if err != nil {
		if p, notFound := lookupProblem(err); !notFound {
			return nil, p
		}
	}
	for _, t := range txts {
		if authcheck.IsSPFRecord(t) {
			records = append(records, t)
		}
	}
	return records, ""
}

// countLookups counts, through include: and redirect=, the terms that
// cost a DNS lookup however the evaluation goes: a receiver that reaches
// the 11th answers permerror.
func countLookups(ctx context.Context, res *resolver.Resolver, domain string, terms []authcheck.SPFTerm) Result {
	c := &lookupCounter{ctx: ctx, res: res, seen: map[string]bool{domain: true}}
	c.count(terms)
	out := Result{Check: "spf-lookups", Required: true}
	note := ""
	if c.macros {
		note = " (terms with macros counted once)"
	}
	switch {
	case c.problem != "":
		out.Status, out.Message = Fail, c.problem
	case c.n > maxLookups:
		out.Status = Fail
		out.Message = fmt.Sprintf("the record needs %d DNS lookups%s, more than the %d allowed (RFC 7208 section 4.6.4), so receivers may answer permerror: replace include:, a and mx terms by the ip4:/ip6: terms they stand for", c.n, note, maxLookups)
	default:
		out.Status = Pass
		out.Message = fmt.Sprintf("the record needs %d of the %d DNS lookups allowed%s", c.n, maxLookups, note)
	}
	return out
}

type lookupCounter struct {
	ctx     context.Context
	res     *resolver.Resolver
	seen    map[string]bool
	n       int
	macros  bool
	problem string
}

func (c *lookupCounter) count(terms []authcheck.SPFTerm) {
	for _, t := range terms {
		if c.problem != "" || c.n > 4*maxLookups {
			return
		}
		if !t.CountsLookup() {
			continue
		}
		c.n++
		if t.Name != "include" && t.Name != "redirect" {
			continue
		}
		target := strings.ToLower(strings.TrimSuffix(t.Domain(), "."))
		if strings.Contains(target, "%") {
			c.macros = true
			continue
		}
		if c.seen[target] {
			c.problem = fmt.Sprintf("%s %s leads back to a record already evaluated: a loop, which receivers answer with permerror", t.Name, target)
			return
		}
		c.seen[target] = true
		records, problem := spfRecord(c.ctx, c.res, target)
		switch {
		case problem != "":
			c.problem = fmt.Sprintf("%s: %s", t.Text, problem)
		case len(records) == 0:
			c.problem = fmt.Sprintf("%s names a domain that publishes no SPF record, which receivers answer with permerror (RFC 7208 sections 5.2 and 6.1)", t.Text)
		case len(records) > 1:
			c.problem = fmt.Sprintf("%s names a domain that publishes %d SPF records, which receivers answer with permerror (RFC 7208 section 3.2)", t.Text, len(records))
		}
		if c.problem != "" {
			return
		}
		sub, err := authcheck.ParseSPF(records[0])
		if err != nil {
			c.problem = fmt.Sprintf("the SPF record of %s, reached by %s, has %v, which receivers answer with permerror", target, t.Text, err)
			return
		}
		c.count(sub)
		delete(c.seen, target) // a diamond is not a loop
	}
}

// repairSPF returns record with add's addresses authorized before its
// final "all" or redirect=, and without the terms that do not parse; from
// nothing, a record that authorizes add and fails the rest.
func repairSPF(record string, add []net.IP) string {
	var kept []string
	insertAt := -1
	redirect := false
	fields := strings.Fields(record)
	if len(fields) > 0 && strings.EqualFold(fields[0], "v=spf1") {
		for _, f := range fields[1:] {
			terms, err := authcheck.ParseSPF("v=spf1 " + f)
			if err != nil || len(terms) != 1 {
				continue
			}
			t := terms[0]
			if t.Modifier && t.Name == "redirect" {
				if redirect {
					continue
				}
				redirect = true
			}
			if insertAt < 0 && (t.Name == "all" && !t.Modifier || t.Name == "redirect" && t.Modifier) {
				insertAt = len(kept)
			}
			kept = append(kept, t.Text)
		}
	}
	var mechs []string
	for _, ip := range add {
		m := authcheck.Mechanism(ip)
		if !contains(kept, m) {
			mechs = append(mechs, m)
		}
	}
	if len(kept) == 0 {
		return strings.Join(append(append([]string{"v=spf1"}, mechs...), "-all"), " ")
	}
	if insertAt < 0 {
		insertAt = len(kept)
	}
	out := append([]string{"v=spf1"}, kept[:insertAt]...)
	out = append(out, mechs...)
	out = append(out, kept[insertAt:]...)
	return strings.Join(out, " ")
}

// mergeSPF makes one record of several: the terms of all, once each, with
// the first record's "all" or redirect= at the end.
func mergeSPF(records []string) string {
	var terms []string
	last := ""
	for _, rec := range records {
		for _, f := range strings.Fields(rec)[1:] {
			parsed, err := authcheck.ParseSPF("v=spf1 " + f)
			if err != nil || len(parsed) != 1 {
				continue
			}
			t := parsed[0]
			if t.Name == "all" && !t.Modifier || t.Name == "redirect" && t.Modifier {
				if last == "" {
					last = t.Text
				}
				continue
			}
			if !contains(terms, t.Text) {
				terms = append(terms, t.Text)
			}
		}
	}
	if last != "" {
		terms = append(terms, last)
	}
	return strings.Join(append([]string{"v=spf1"}, terms...), " ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func spfZone(domain, value string) string {
	return domain + ". IN TXT " + quoteTXT(value)
}
