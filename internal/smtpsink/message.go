package smtpsink

import (
	"bytes"
	"net/mail"

	"github.com/emersion/go-smtp"
)

// Message is one transaction a sink accepted, as it came off the wire.
type Message struct {
	Local  string // the sink's IP address: which host received it
	Remote string // the client's IP address
	Helo   string
	From   string // reverse path; "" for a null sender (a DSN)
	Opts   smtp.MailOptions
	To     []string
	Data   []byte // exactly the DATA bytes, CRLF line ends, dot-unstuffed
	TLS    bool   // the transaction ran in TLS
	User   string // the SASL login, if any
}

// Header returns the first value of the header field name, unfolded; ""
// when the message has no such field or no readable header.
func (m Message) Header(name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	return msg.Header.Get(name)
}
