package delivery

import (
	"context"
	"dkimrelay/relay/outcome"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// lost is the Transient outcome of a session that broke at stage: a
// dropped connection, a timeout or a garbled reply (RFC 5321 section
// 4.5.3.2: timeouts are failures to retry, never bounces).
func lost(ctx context.Context, where, stage string, err error) outcome.Outcome {
	if ctx.Err() != nil {
		return outcome.Local(outcome.Transient, "4.4.7", "delivery interrupted "+stage+" at "+where+": "+context.Cause(ctx).Error())
	}
	return outcome.Local(outcome.Transient, "4.4.2", "lost connection with "+where+" "+stage+": "+describe(err))
}

// describe turns a network error into a short phrase for admins, without
// Go's socket details.
func describe(err error) string {
	var pe *protocolError
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		return pe.Error()
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by peer"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by remote host"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	return err.Error()
}
