package submission

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// dataOnlySession accepts any transaction and reads DATA the way the
// relay's session does, through the line checks and a DATA buffer, then
// drops it: what BenchmarkDataPath measures.
type dataOnlySession struct {
	br *bufio.Reader
}

func (s *dataOnlySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *dataOnlySession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *dataOnlySession) Reset()                               {}
func (s *dataOnlySession) Logout() error                        { return nil }

func (s *dataOnlySession) Data(r io.Reader) error {
	s.br.Reset(newStrictReader(r))
	_, err := io.Copy(io.Discard, s.br)
	return err
}

// BenchmarkDataPath measures the bytes of a message from the connection to
// the session's reader alone: go-smtp's command loop, its DATA reader and
// line limit, the relay's line checks and DATA buffer, over plaintext TCP
// on loopback, with no TLS, signing or spooling. The client sends MAIL,
// RCPT and DATA pipelined (RFC 2920), then the dot-stuffed message.
// Under callgrind, the difference between two counts of messages gives
// the instructions a message costs on this path.
func BenchmarkDataPath(b *testing.B) {
	for _, size := range []int{4 << 10, 100 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
				return &dataOnlySession{br: bufio.NewReaderSize(nil, dataBufferSize)}, nil
			}))
			srv.Domain = "relay.test"
			srv.AllowInsecureAuth = true
			srv.MaxMessageBytes = 10 << 20
			srv.MaxLineLength = 2048
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go srv.Serve(ln)
			b.Cleanup(func() { srv.Close() })

			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			replies := bufio.NewReader(conn)
			expect := func(code string) {
				for {
					line, err := replies.ReadString('\n')
					if err != nil {
						b.Fatal(err)
					}
					if !strings.HasPrefix(line, code) {
						b.Fatalf("got %q, want %s", line, code)
					}
					if line[3] == ' ' {
						return
					}
				}
			}
			expect("220")
			fmt.Fprintf(conn, "EHLO client.test\r\n")
			expect("250")

			var wire bytes.Buffer
			wire.WriteString("MAIL FROM:<notifications@example.org>\r\nRCPT TO:<someone@example.net>\r\nDATA\r\n")
			msg := benchMessage(0, size)
			wire.WriteString(strings.ReplaceAll("\r\n"+string(msg), "\r\n.", "\r\n..")[2:])
			wire.WriteString(".\r\n")
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := conn.Write(wire.Bytes()); err != nil {
					b.Fatal(err)
				}
				expect("250")
				expect("250")
				expect("354")
				expect("250")
			}
		})
	}
}
