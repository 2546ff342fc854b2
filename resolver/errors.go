package resolver

import (
	"context"
	"errors"
	"net"
)

// Sentinels reachable through errors.Is on the *net.DNSError values this
// package returns. Both also set DNSError.IsNotFound; they exist because a
// mail sender must tell them apart: NXDOMAIN for an MX query means the
// domain does not exist (bounce), NODATA means "no MX, use the implicit MX"
// (RFC 5321 section 5.1).
var (
	// ErrNXDomain: the name does not exist (RCODE 3, RFC 1035 section 4.1.1).
	ErrNXDomain = errors.New("no such host")
	// ErrNoData: the name exists but has no record of the asked type
	// (RFC 2308 section 2.2).
	ErrNoData = errors.New("no such record")
)

// IsNotFound reports whether err says that the name or the record type does
// not exist: NXDOMAIN or NODATA. Such answers are authoritative and final.
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// IsTemporary reports whether err is worth retrying later: SERVFAIL,
// REFUSED, timeouts, network errors and cancelled contexts.
func IsTemporary(err error) bool {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsTemporary || de.IsTimeout
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// IsNXDomain reports whether err says that the name itself does not exist.
func IsNXDomain(err error) bool {
	return errors.Is(err, ErrNXDomain)
}

func notFoundError(name, server string, nxdomain bool) *net.DNSError {
	e := &net.DNSError{Name: name, Server: server, IsNotFound: true}
	if nxdomain {
		e.Err, e.UnwrapErr = ErrNXDomain.Error(), ErrNXDomain
	} else {
		e.Err, e.UnwrapErr = ErrNoData.Error(), ErrNoData
	}
	return e
}

func temporaryError(name, server, reason string, cause error) *net.DNSError {
	e := &net.DNSError{
		Err:         reason,
		UnwrapErr:   cause,
		Name:        name,
		Server:      server,
		IsTemporary: true,
	}
	var ne net.Error
	if errors.Is(cause, context.DeadlineExceeded) || (errors.As(cause, &ne) && ne.Timeout()) {
		e.IsTimeout = true
	}
	return e
}

// withName returns a copy of e reporting name, so errors name what the
// caller asked for rather than the last CNAME target.
func withName(err error, name string) error {
	var de *net.DNSError
	if !errors.As(err, &de) {
		return err
	}
	c := *de
	c.Name = name
	return &c
}
