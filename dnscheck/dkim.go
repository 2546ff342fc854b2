package dnscheck

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"sort"
	"strings"

	"dkimrelay/dkim"
	"dkimrelay/keys"
)

// minRSABits is the key size RFC 8301 section 3.2 asks signers to use at
// least; receivers may treat smaller keys as no signature.
const minRSABits = 2048

func checkDKIM(ctx context.Context, r *Report, o Options) {
	var list []*keys.Key
	haveActive, haveRSA := false, false
	for _, k := range o.Keys {
		if !strings.EqualFold(k.Domain, o.Domain) || (k.State != keys.Active && k.State != keys.Pending) {
			continue
		}
		list = append(list, k)
		if k.State == keys.Active {
			haveActive = true
			haveRSA = haveRSA || k.Algorithm.KeyType() == "rsa"
		}
	}
	// Active keys first, then by selector: the order of the report.
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].State != list[j].State {
			return list[i].State == keys.Active
		}
		return list[i].Selector < list[j].Selector
	})
	if len(list) == 0 {
		r.add(Result{Check: "dkim", Status: Fail, Required: true, Message: fmt.Sprintf(
			"%s has no active or pending DKIM key, so the relay refuses its mail: make one with `dkimrelay keys generate --domain %s`", o.Domain, o.Domain)})
		return
	}
	if !haveActive {
		r.add(Result{Check: "dkim", Status: Fail, Required: true, Message: fmt.Sprintf(
			"%s has no active DKIM key, so the relay refuses its mail: publish a pending key's record, then run `dkimrelay keys activate --domain %s --selector SELECTOR`", o.Domain, o.Domain)})
	} else if !haveRSA {
		r.add(Result{Check: "dkim", Status: Warning, Message: fmt.Sprintf(
			"only Ed25519 keys sign for %s: receivers that do not verify Ed25519 (RFC 8463) see no valid signature; add an RSA key with `dkimrelay keys generate --domain %s --algorithm rsa2048`", o.Domain, o.Domain)})
	}
	for _, k := range list {
		c := keys.CheckPublished(ctx, o.Resolver.LookupTXT, k)
		res := Result{Check: "dkim", Required: k.State == keys.Active}
		res.Message = fmt.Sprintf("%s key %s (%s): %s", k.State, k.Selector, k.Algorithm, c.Detail)
		switch {
		case c.State == keys.Published:
			res.Status = Pass
		case k.State == keys.Active:
			res.Status = Fail
		default:
			// A pending key signs nothing yet; it only cannot be
			// activated until its record is there.
			res.Status = Warning
		}
		if c.State == keys.Missing || c.State == keys.Different {
			if zone, err := k.Zone(); err == nil {
				res.Record = zone
			}
		}
		r.add(res)
	}
	for _, k := range list {
		r.add(keySize(ctx, o, k))
	}
}

// keySize checks the size of a key and of whatever key its selector
// publishes, which is what verifiers use.
func keySize(ctx context.Context, o Options, k *keys.Key) Result {
	res := Result{Check: "key-size", Status: Pass}
	own := describeKey(k.Public())
	if bits := rsaBits(k.Public()); bits > 0 && bits < minRSABits {
		res.Status = Warning
		res.Message = fmt.Sprintf("key %s is %s, below the %d bits RFC 8301 section 3.2 asks for: replace it with `dkimrelay keys rotate --domain %s --algorithm rsa2048`", k.Selector, own, minRSABits, o.Domain)
		return res
	}
	res.Message = fmt.Sprintf("key %s is %s", k.Selector, own)
	txts, err := o.Resolver.LookupTXT(ctx, k.RecordName())
	if err != nil {
		return res
	}
	for _, t := range txts {
		rec, err := dkim.ParseRecord(t)
		if err != nil || rec.Key == nil {
			continue
		}
		if bits := rsaBits(rec.Key); bits > 0 && bits < minRSABits {
			res.Status = Warning
			res.Message = fmt.Sprintf("%s publishes %s, below the %d bits RFC 8301 section 3.2 asks for; verifiers may ignore signatures made with it: publish the relay's own key instead", k.RecordName(), describeKey(rec.Key), minRSABits)
			if zone, err := k.Zone(); err == nil {
				res.Record = zone
			}
		}
	}
	return res
}

func rsaBits(pub any) int {
	if k, ok := pub.(*rsa.PublicKey); ok {
		return k.N.BitLen()
	}
	return 0
}

func describeKey(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("a %d-bit RSA key", k.N.BitLen())
	case ed25519.PublicKey:
		return "an Ed25519 key"
	}
	return "a key of unknown type"
}
