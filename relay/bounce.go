package relay

import (
	"bytes"

	"dkimrelay/relay/ingest"
)

// enqueueBounce queues a bounce for message origQID, from the null sender
// (RFC 5321 section 4.5.5), signed for the relay's hostname when that is a
// domain with an active key.
func (r *Relay) enqueueBounce(origQID string, rcpts []string, msg []byte) error {
	_, err := r.ingest.Accept(ingest.Message{
		From:    "",
		Rcpts:   rcpts,
		Keys:    r.current.Load().Keys.Own(r.cfg.Hostname),
		Body:    bytes.NewReader(msg),
		Kind:    "bounce",
		OrigQID: origQID,
	})
	return err
}
