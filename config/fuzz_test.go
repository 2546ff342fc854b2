package config

import "testing"

// FuzzParse: whatever the file holds, loading it returns a config or an
// error naming the file, never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"hostname = \"mail.example.org\"\n[[domains]]\nname = \"example.org\"\n",
		"[delivery]\nmode = \"smarthost\"\nsmarthost = \"a:1\"\n",
		"[submission]\nlisten = [\"127.0.0.1:587\"]\nmax_message_size = -1\n",
		"[keys]\nretire_after = \"1h\"\n",
		"x = [[[",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("/fuzz/dkimrelay.toml", b)
		if err == nil && c == nil {
			t.Fatal("nil config without an error")
		}
	})
}
