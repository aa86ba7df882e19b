package reference

import (
	"strings"
	"testing"
)

func TestGrammar(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) bool
		in   string
		want bool
	}{
		{"tag", isTag, "3.19.1", true},
		{"tag word characters", isTag, "T_1-rc.2", true},
		{"tag starting with underscore", isTag, "_x", true},
		{"tag of 128", isTag, strings.Repeat("t", 128), true},
		{"tag of 129", isTag, strings.Repeat("t", 129), false},
		{"empty tag", isTag, "", false},
		{"tag starting with dot", isTag, ".x", false},
		{"tag starting with dash", isTag, "-x", false},
		{"tag with plus", isTag, "a+b", false},
		{"tag with non-ASCII letter", isTag, "caf\u00e9", false},

		{"component", isPathComponent, "alpine", true},
		{"component separators", isPathComponent, "a.b_c__d-e---f", true},
		{"component of digits", isPathComponent, "0", true},
		{"empty component", isPathComponent, "", false},
		{"component with uppercase", isPathComponent, "Alpine", false},
		{"three underscores", isPathComponent, "a___b", false},
		{"two dots", isPathComponent, "a..b", false},
		{"mixed separators", isPathComponent, "a._b", false},
		{"dash then underscore", isPathComponent, "a-_b", false},
		{"leading separator", isPathComponent, "_a", false},
		{"trailing separator", isPathComponent, "a-", false},
		{"trailing double underscore", isPathComponent, "a__", false},

		{"domain", isDomain, "example.test", true},
		{"domain with port", isDomain, "example.test:5000", true},
		{"single label", isDomain, "localhost", true},
		{"uppercase domain", isDomain, "Example.TEST", true},
		{"inner dashes", isDomain, "a--b.test", true},
		{"ipv4", isDomain, "127.0.0.1:5000", true},
		{"more than four numbers", isDomain, "1.2.3.4.5", true},
		{"ipv6", isDomain, "[::1]:5000", true},
		{"ipv6 uppercase", isDomain, "[FE80::A]", true},
		{"empty domain", isDomain, "", false},
		{"empty label", isDomain, "a..b", false},
		{"trailing dot", isDomain, "example.test.", false},
		{"leading dash", isDomain, "-a.test", false},
		{"trailing dash", isDomain, "a-.test", false},
		{"underscore", isDomain, "a_b.test", false},
		{"empty port", isDomain, "example.test:", false},
		{"named port", isDomain, "example.test:http", false},
		{"two ports", isDomain, "example.test:1:2", false},
		{"empty brackets", isDomain, "[]", false},
		{"unclosed bracket", isDomain, "[::1", false},
		{"ipv6 zone", isDomain, "[fe80::1%eth0]", false},
		{"ipv6 not hexadecimal", isDomain, "[g::1]", false},
		{"text after bracket", isDomain, "[::1]x", false},
		{"ipv6 without brackets", isDomain, "::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn(tt.in); got != tt.want {
				t.Errorf("%s(%q) = %v, want %v", tt.name, tt.in, got, tt.want)
			}
		})
	}
}

// TestParseDockerCorners covers docker's rules that a hand-written
// grammar must keep.
func TestParseDockerCorners(t *testing.T) {
	const d = "sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"
	hex := d[len("sha256:"):]
	tests := []struct {
		name    string
		in      string
		want    Reference
		wantErr string // a part of the error; "" for none
	}{
		{"an identifier is no name", hex, Reference{}, "cannot specify 64-byte hexadecimal strings"},
		{"an identifier with a digest is a name", hex + "@" + d,
			Reference{Registry: DockerHub, Repository: "library/" + hex, Digest: d}, ""},
		{"an identifier with a tag is a name", hex + ":1",
			Reference{Registry: DockerHub, Repository: "library/" + hex, Tag: "1"}, ""},
		{"one component is never a host", "localhost:5000",
			Reference{Registry: DockerHub, Repository: "library/localhost", Tag: "5000"}, ""},
		{"an uppercase host is kept", "Example.TEST:5000/x",
			Reference{Registry: "Example.TEST:5000", Repository: "x", Tag: "latest"}, ""},
		{"only index.docker.io is docker hub's alias", "INDEX.docker.io/x",
			Reference{Registry: "INDEX.docker.io", Repository: "x", Tag: "latest"}, ""},
		{"uppercase tag", "x:V1", Reference{Registry: DockerHub, Repository: "library/x", Tag: "V1"}, ""},
		{"the path of docker hub's longest name", strings.Repeat("a", 247), Reference{}, "name is 265 characters, more than 255"},
		{"a path of more than 255", "example.test/" + strings.Repeat("a", 256), Reference{}, "name is more than 255 characters"},
		{"a host that is none is no path component", "a_b.c/x", Reference{}, `registry host "a_b.c"`},
		{"nor with a tag and a digest", "a__b.c/x:1@" + d, Reference{}, `registry host "a__b.c"`},
		{"nor a long one", "a_b.c/" + strings.Repeat("a", 260), Reference{}, `registry host "a_b.c"`},
		{"a non-ASCII uppercase letter", "\u212a/x", Reference{}, "registry host \"\u212a\""},
		{"invalid UTF-8", "a/\xff", Reference{}, `path component "\xff"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr == "" && (err != nil || got != tt.want) {
				t.Errorf("Parse(%q) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Parse(%q) = %+v, %v, want an error containing %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}
