package dmarcrpt

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// charsetReader decodes the encodings reporters declare besides UTF-8.
// Reports are almost all ASCII; the Latin-1 family is mapped byte by byte
// (Windows-1252's extra characters in 0x80-0x9F only appear in free text
// such as comments, where an approximation does no harm).
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return input, nil
	case "iso-8859-1", "latin1", "latin-1", "windows-1252", "cp1252", "iso-8859-15":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(latin1ToUTF8(b)), nil
	case "utf-16", "utf-16le", "utf-16be":
		return nil, fmt.Errorf("the report declares %s, which dkimrelay does not decode: convert it to UTF-8 (iconv -f %s -t UTF-8) and import it again", charset, charset)
	}
	return nil, fmt.Errorf("the report declares the unknown encoding %q", charset)
}

// latin1ToUTF8 maps each byte to the code point of the same value.
func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// declaresEncoding reports whether the XML declaration names an encoding.
func declaresEncoding(b []byte) bool {
	decl, _, ok := bytes.Cut(b, []byte("?>"))
	return ok && bytes.HasPrefix(bytes.TrimSpace(decl), []byte("<?xml")) && bytes.Contains(decl, []byte("encoding="))
}
