package verify

import (
	"bytes"
	"crypto/rsa"
	"math/big"
)

// sha256DigestInfo is the DER prefix of a SHA-256 DigestInfo in an
// EMSA-PKCS1-v1_5 encoding (RFC 8017 section 9.2, note 1).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// opensWith reports whether the RSA signature sig was made with the
// private half of pub, whatever it signed: raised to pub's exponent it
// must give a well-formed EMSA-PKCS1-v1_5 block around a SHA-256 digest
// (RFC 8017 sections 8.2.2 and 9.2). A signature made by another key gives
// random bytes, which have that form with negligible probability. When it
// opens but does not verify, what was signed differs from what arrived.
func opensWith(pub *rsa.PublicKey, sig []byte) bool {
	k := pub.Size()
	if len(sig) != k || pub.E < 2 {
		return false
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(pub.N) >= 0 {
		return false
	}
	em := new(big.Int).Exp(s, big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, k))
	tLen := len(sha256DigestInfo) + 32
	if k < tLen+11 || em[0] != 0 || em[1] != 1 {
		return false
	}
	ps := em[2 : k-tLen-1]
	for _, b := range ps {
		if b != 0xff {
			return false
		}
	}
	return em[k-tLen-1] == 0 && bytes.Equal(em[k-tLen:k-32], sha256DigestInfo)
}
