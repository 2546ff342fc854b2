package outcome

import (
	"slices"
	"testing"
)

func TestOfCode(t *testing.T) {
	tests := []struct {
		code int
		want Status
	}{
		{250, Delivered}, {251, Delivered}, {354, Delivered},
		{421, Transient}, {450, Transient}, {452, Transient},
		{550, Permanent}, {554, Permanent}, {0, Permanent}, {199, Permanent}, {600, Permanent},
	}
	for _, tt := range tests {
		if got := OfCode(tt.code); got != tt.want {
			t.Errorf("OfCode(%d) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestRemote(t *testing.T) {
	tests := []struct {
		code           int
		enhanced, want string
		status         Status
	}{
		{550, "5.1.1", "5.1.1", Permanent},
		{550, "", "5.0.0", Permanent},
		{451, "", "4.0.0", Transient},
		{250, "2.0.0", "2.0.0", Delivered},
	}
	for _, tt := range tests {
		o := Remote("mx.example.net", tt.code, tt.enhanced, "550 5.1.1 no such user")
		if o.Status != tt.status || o.Enhanced != tt.want || o.Code != tt.code || o.MX != "mx.example.net" ||
			o.Reply != "mx.example.net said: 550 5.1.1 no such user" {
			t.Errorf("Remote(%d, %q) = %+v", tt.code, tt.enhanced, o)
		}
	}
}

func TestRetry(t *testing.T) {
	tests := []struct{ in, want string }{{"5.7.8", "4.7.8"}, {"4.4.1", "4.4.1"}, {"", "4.0.0"}}
	for _, tt := range tests {
		o := Outcome{Status: Permanent, Enhanced: tt.in, Reply: "r"}.Retry()
		if o.Status != Transient || o.Enhanced != tt.want || o.Reply != "r" {
			t.Errorf("Retry of %q = %+v, want Transient %s", tt.in, o, tt.want)
		}
	}
}

func TestFor(t *testing.T) {
	got := Local(Transient, "4.4.1", "no route").For([]string{"a@x.example", "b@x.example"})
	var rcpts []string
	for _, o := range got {
		rcpts = append(rcpts, o.Rcpt)
		if o.Status != Transient || o.Enhanced != "4.4.1" || o.Reply != "no route" {
			t.Errorf("For gave %+v", o)
		}
	}
	if !slices.Equal(rcpts, []string{"a@x.example", "b@x.example"}) {
		t.Errorf("For gave recipients %v", rcpts)
	}
	if Status(7).String() != "Status(7)" || Transient.String() != "transient" {
		t.Error("Status.String")
	}
}
