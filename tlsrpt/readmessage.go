package tlsrpt

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
)

// ReadMessage reads back the report a message made by Message carries:
// its application/tlsrpt+gzip part, base64 and gzip decoded (RFC 8460
// section 5.3).
func ReadMessage(r io.Reader) (Report, error) {
	var rep Report
	m, err := mail.ReadMessage(r)
	if err != nil {
		return rep, err
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return rep, fmt.Errorf("report message: %w", err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return rep, errors.New("report message: no application/tlsrpt+gzip part")
		}
		if err != nil {
			return rep, fmt.Errorf("report message: %w", err)
		}
		if p.Header.Get("Content-Type") != "application/tlsrpt+gzip" {
			continue
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil {
			return rep, fmt.Errorf("report message: %w", err)
		}
		if err := json.NewDecoder(zr).Decode(&rep); err != nil {
			return rep, fmt.Errorf("report message: %w", err)
		}
		return rep, nil
	}
}
