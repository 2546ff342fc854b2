package verify

import (
	"crypto"
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"dkimrelay/dkim"
	"dkimrelay/resolver"
)

// maxTrials bounds how many header fields are removed one at a time to
// find one added after signing.
const maxTrials = 64

// diagnose turns the verifier's error for the n-th signature (in field
// sigFields[n]) into a kind and a sentence for the administrator.
func diagnose(m *message, n int, sigFields []int, tags sigTags, verr error, keys *keyAnswers) (Kind, string) {
	msg := verr.Error()
	name := tags.keyName()
	publish := fmt.Sprintf("`dkimrelay keys dns --domain %s --selector %s`", tags["d"], tags["s"])
	switch {
	case strings.Contains(msg, "body hash did not verify"):
		return BodyModified, "the body was modified in transit: it no longer hashes to the bh= the signer computed. " +
			"Something between the relay and the receiver changed it: a mailing list footer, a virus scanner's note, a gateway that re-encodes or re-wraps the text. " +
			"If you copied the message by hand, copy it again untouched (line endings are repaired, changed spaces or wrapped lines are not)"
	case strings.Contains(msg, "signature did not verify"):
		return diagnoseSignature(m, n, sigFields, tags, keys)
	case msgauth.IsTempFail(verr):
		return DNSFailure, fmt.Sprintf("the key record at %s could not be looked up (%s): a temporary DNS failure; try again, and check dns.servers", name, keys.errs[name])
	case strings.Contains(msg, "no key for signature"):
		err := keys.errs[name]
		answer := "no such name"
		if resolver.IsNotFound(err) && !resolver.IsNXDomain(err) {
			answer = "the name exists but has no TXT record"
		}
		return SelectorNotPublished, fmt.Sprintf("selector not published: DNS has no key record at %s (%s). Publish the record %s prints; if you just did, wait for the negative answer's TTL and try again", name, answer, publish)
	case strings.Contains(msg, "key revoked"):
		return KeyRevoked, fmt.Sprintf("the key record at %s is revoked (its p= is empty): the key was withdrawn while mail signed with it was still on its way; keep a retired key's record published until `dkimrelay keys prune` says it may go", name)
	case strings.Contains(msg, "no valid key found"), strings.Contains(msg, "multiple TXT records"),
		strings.Contains(msg, "key syntax error"), strings.Contains(msg, "key record error"),
		strings.Contains(msg, "public key version"), strings.Contains(msg, "key is too short"),
		strings.Contains(msg, "Ed25519 public key size"), strings.Contains(msg, "key algorithm"):
		return KeyInvalid, fmt.Sprintf("the record at %s is not a usable DKIM key (%s); replace it with the record %s prints", name, strings.TrimPrefix(msg, "dkim: "), publish)
	case strings.Contains(msg, "signature has expired"):
		return Expired, fmt.Sprintf("the signature expired (x=%s) before this check: receivers that got it in time verified it; this one cannot be checked any more", tags["x"])
	}
	return Malformed, fmt.Sprintf("the DKIM-Signature field is malformed or asks for what verifiers refuse (%s); a gateway may have re-folded or truncated it", strings.TrimPrefix(msg, "dkim: "))
}

// diagnoseSignature explains a signature whose body hash matches but whose
// signature does not verify: a header field added after signing, one
// changed, or the wrong key in DNS.
func diagnoseSignature(m *message, n int, sigFields []int, tags sigTags, keys *keyAnswers) (Kind, string) {
	signed := tags.signedNames()
	trials := 0
	for i, f := range m.fields {
		if slices.Contains(sigFields, i) || !slices.Contains(signed, strings.ToLower(f.name)) {
			continue
		}
		if trials++; trials > maxTrials {
			break
		}
		verifs, err := verifyAll(m.bytes(i), keys)
		if err != nil || n >= len(verifs) || verifs[n].Err != nil {
			continue
		}
		return HeaderAdded, fmt.Sprintf("a header field was added after signing: %q. The signature covers %s: fields even when absent, so that nobody can add one unseen; without this one it verifies. "+
			"Something after the relay added it (a mailing list, a forwarding service, a security gateway)", excerpt(strings.TrimRight(f.raw, "\r\n"), 120), f.name)
	}
	name := tags.keyName()
	covered := strings.Join(signed, ":")
	pub := publishedKey(keys, name)
	if rsaPub, ok := pub.(*rsa.PublicKey); ok {
		if opensWith(rsaPub, tags.signature()) {
			return HeaderModified, fmt.Sprintf("a header field the signature covers (h=%s) was changed after signing: the key at %s made this signature and the body is intact, but the signed fields no longer hash to what was signed. "+
				"Look for a gateway that rewrites Subject (a [SPAM] tag), From or To, or re-encodes them", covered, name)
		}
		return KeyMismatch, fmt.Sprintf("key mismatch: the key published at %s is not the key that made this signature. Publish the record `dkimrelay keys dns --domain %s --selector %s` prints (`dkimrelay keys check --domain %s` compares them)", name, tags["d"], tags["s"], tags["d"])
	}
	if own := ownKey(keys, name); own != nil && pub != nil {
		if own.Equal(pub) {
			return HeaderModified, fmt.Sprintf("a header field the signature covers (h=%s) was changed after signing: the key published at %s is this relay's own key for the selector and the body is intact, but the signed fields no longer hash to what was signed. "+
				"Look for a gateway that rewrites Subject (a [SPAM] tag), From or To, or re-encodes them", covered, name)
		}
		return KeyMismatch, fmt.Sprintf("key mismatch: the key published at %s is not this relay's key for selector %s. Publish the record `dkimrelay keys dns --domain %s --selector %s` prints (`dkimrelay keys check --domain %s` compares them)", name, tags["s"], tags["d"], tags["s"], tags["d"])
	}
	return HeaderOrKey, fmt.Sprintf("the signature does not verify although the body is intact: either a header field it covers (h=%s) was changed after signing, or the key published at %s is not the one that signed (key mismatch); `dkimrelay keys check --domain %s` tells the second apart", covered, name, tags["d"])
}

// publishedKey is the first usable key among the records the verifier
// saw at name.
func publishedKey(keys *keyAnswers, name string) any {
	txts, _ := keys.LookupTXT(name)
	for _, t := range txts {
		if r, err := dkim.ParseRecord(t); err == nil && r.Key != nil {
			return r.Key
		}
	}
	return nil
}

// ownKey is the relay's own key for the record name, when it has one.
func ownKey(keys *keyAnswers, name string) interface{ Equal(crypto.PublicKey) bool } {
	if keys.own == nil {
		return nil
	}
	txts, err := keys.own(keys.ctx, name)
	if err != nil {
		return nil
	}
	for _, t := range txts {
		if r, err := dkim.ParseRecord(t); err == nil {
			if k, ok := r.Key.(interface{ Equal(crypto.PublicKey) bool }); ok {
				return k
			}
		}
	}
	return nil
}

func excerpt(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
