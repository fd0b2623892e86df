package main

import (
	"bytes"
	"testing"
)

func TestTermSafe(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text and layout", "shop\timage\n", "shop\timage\n"},
		{"an escape sequence", "app\x1b[31mred\n", `app\x1b[31mred` + "\n"},
		{"a carriage return", "ok\rEVIL", `ok\x0dEVIL`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"a one-byte CSI", "a\u009b31m", `a\u009b31m`},
		{"other UTF-8 kept", "café ünïcode é", "café ünïcode é"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			n, err := termSafe{&b}.Write([]byte(tc.in))
			if err != nil || n != len(tc.in) || b.String() != tc.want {
				t.Errorf("got %q (%d, %v), want %q", b.String(), n, err, tc.want)
			}
		})
	}
}
