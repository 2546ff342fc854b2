package submission

import (
	"dkimrelay/internal/netclass"
	"dkimrelay/users"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-smtp"
)

// checkAddress accepts a mailbox the relay can pass on unchanged, as
// "<local@domain>", to the MX of its one domain. go-smtp has already
// stripped a source route ("@a,@b:user@c" is user@c: RFC 5321 section
// 4.1.1.3 and appendix C let a server ignore the route) and the quotes of a
// quoted local part. What is left is refused when it cannot be written back
// as a dot-string: a local part with "@" (user@b@c, the old relay trick of
// resolve_dequoted_address in Postfix), spaces, "<", ">" or other specials
// (a quoted "a> NOTIFY=..." would become parameters downstream), control
// characters or invalid UTF-8 (the queue's JSON would change it). "%" and
// "!" are ordinary characters of a local part (RFC 5322 atext): like Postfix
// for an authenticated client, the relay passes user%host@domain and
// host!user@domain unchanged to domain's MX, which alone decides what they
// mean. An address literal must be an IPv4 address or "IPv6:" and an IPv6
// address (RFC 5321 section 4.1.3).
func checkAddress(addr string) *smtp.SMTPError {
	local, domain, ok := users.SplitAddress(addr)
	shown := printableAddr(addr)
	if !ok || local == "" || !utf8.ValidString(addr) {
		return syntaxError(smtp.EnhancedCode{5, 1, 3}, "Address %s is not of the form local-part@domain", shown)
	}
	if strings.HasPrefix(domain, "[") {
		if !validLiteral(domain) {
			return syntaxError(smtp.EnhancedCode{5, 1, 3}, "Address %s has a malformed address literal", shown)
		}
	} else if !validDomain(domain) {
		return syntaxError(smtp.EnhancedCode{5, 1, 3}, "Address %s has a malformed domain", shown)
	}
	for _, r := range local {
		if r < 0x80 && !strings.ContainsRune(localPartASCII, r) {
			return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: sprintf(
				"Address %s has a local part that needs quoting (it holds %q); the relay passes on only local parts of letters, digits, dots and !#$%%&'*+-/=?^_`{|}~", shown, r)}
		}
	}
	return nil
}

// printableAddr is addr for a reply: in angle brackets, or quoted with
// escapes when it holds control characters (a bare CR would break the
// reply line) or invalid UTF-8.
func printableAddr(addr string) string {
	for _, r := range addr {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return strconv.Quote(addr)
		}
	}
	return "<" + addr + ">"
}

// localPartASCII are the ASCII characters of an unquoted local part: RFC
// 5322 atext and the dot. Any dot is accepted, even leading or doubled: such
// addresses exist (some Japanese carriers issued them) and a dot is never
// special to a receiver's parser. Non-ASCII UTF-8 is allowed too (RFC 6531).
const localPartASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~."

// validLiteral checks an address literal: [1.2.3.4] or [IPv6:2001:db8::1].
func validLiteral(d string) bool {
	_, ok := literalAddr(d)
	return ok
}

// literalAddr is the address of an address literal (RFC 5321 section
// 4.1.3).
func literalAddr(d string) (netip.Addr, bool) {
	lit, ok := strings.CutSuffix(strings.TrimPrefix(d, "["), "]")
	if !ok {
		return netip.Addr{}, false
	}
	if v6, ok := cutPrefixFold(lit, "IPv6:"); ok {
		ip, err := netip.ParseAddr(v6)
		return ip, err == nil && ip.Is6() && ip.Zone() == ""
	}
	ip, err := netip.ParseAddr(lit)
	return ip, err == nil && ip.Is4()
}

// internalLiteral refuses a recipient whose domain is an address literal
// of an internal network (loopback, private, link-local), unless the
// relay may deliver there (delivery.allow_internal, or a smarthost that
// takes everything).
func (s *Server) internalLiteral(rcpt string) *smtp.SMTPError {
	if !s.cfg.RefuseInternalLiterals {
		return nil
	}
	_, domain, _ := users.SplitAddress(rcpt)
	ip, ok := literalAddr(domain)
	if !ok || !netclass.Internal(ip) {
		return nil
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: sprintf(
		"Recipient %s is on an internal network (loopback, private or link-local): the relay does not deliver there unless delivery.allow_internal = true", printableAddr(rcpt))}
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			// Non-ASCII labels are U-labels of an internationalised domain
			// (RFC 6531); anything else outside LDH is malformed.
			if r < 0x80 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
