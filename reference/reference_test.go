package reference_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/reference"
)

// alpineDigest is the digest of docker.io/library/alpine:3.19.1's manifest
// list (see DESIGN.md).
const alpineDigest = "sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"

func TestParseReference(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want reference.Reference
		// str is String(); familiar is Familiar().
		str, familiar string
	}{
		{"bare name", "alpine",
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Tag: "latest"},
			"docker.io/library/alpine:latest", "alpine:latest"},
		{"name and tag", "alpine:3.19.1",
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Tag: "3.19.1"},
			"docker.io/library/alpine:3.19.1", "alpine:3.19.1"},
		{"library prefix", "library/alpine:3.19",
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Tag: "3.19"},
			"docker.io/library/alpine:3.19", "alpine:3.19"},
		{"docker.io without library", "docker.io/alpine",
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Tag: "latest"},
			"docker.io/library/alpine:latest", "alpine:latest"},
		{"full docker hub name", "docker.io/library/alpine:3.19.1",
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Tag: "3.19.1"},
			"docker.io/library/alpine:3.19.1", "alpine:3.19.1"},
		{"index.docker.io", "index.docker.io/library/alpine:3",
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Tag: "3"},
			"docker.io/library/alpine:3", "alpine:3"},
		{"index.docker.io single component", "index.docker.io/busybox",
			reference.Reference{Registry: "docker.io", Repository: "library/busybox", Tag: "latest"},
			"docker.io/library/busybox:latest", "busybox:latest"},
		{"registry-1.docker.io", "registry-1.docker.io/user/app:v1",
			reference.Reference{Registry: "docker.io", Repository: "user/app", Tag: "v1"},
			"docker.io/user/app:v1", "user/app:v1"},
		{"docker hub user repo", "user/app",
			reference.Reference{Registry: "docker.io", Repository: "user/app", Tag: "latest"},
			"docker.io/user/app:latest", "user/app:latest"},
		{"docker hub deep path under library", "docker.io/library/a/b:1",
			reference.Reference{Registry: "docker.io", Repository: "library/a/b", Tag: "1"},
			"docker.io/library/a/b:1", "library/a/b:1"},
		{"localhost without port", "localhost/x",
			reference.Reference{Registry: "localhost", Repository: "x", Tag: "latest"},
			"localhost/x:latest", "localhost/x:latest"},
		{"localhost with port", "localhost:5000/x",
			reference.Reference{Registry: "localhost:5000", Repository: "x", Tag: "latest"},
			"localhost:5000/x:latest", "localhost:5000/x:latest"},
		{"ipv4 with port and tag", "127.0.0.1:5000/a/b:tag",
			reference.Reference{Registry: "127.0.0.1:5000", Repository: "a/b", Tag: "tag"},
			"127.0.0.1:5000/a/b:tag", "127.0.0.1:5000/a/b:tag"},
		{"ipv6 with port", "[::1]:5000/x",
			reference.Reference{Registry: "[::1]:5000", Repository: "x", Tag: "latest"},
			"[::1]:5000/x:latest", "[::1]:5000/x:latest"},
		{"ipv6 with port and tag", "[::1]:5000/x:v2",
			reference.Reference{Registry: "[::1]:5000", Repository: "x", Tag: "v2"},
			"[::1]:5000/x:v2", "[::1]:5000/x:v2"},
		{"ipv6 without port", "[::1]/x",
			reference.Reference{Registry: "[::1]", Repository: "x", Tag: "latest"},
			"[::1]/x:latest", "[::1]/x:latest"},
		{"registry host with dots", "images.example.test/team/app:1.0-rc_1",
			reference.Reference{Registry: "images.example.test", Repository: "team/app", Tag: "1.0-rc_1"},
			"images.example.test/team/app:1.0-rc_1", "images.example.test/team/app:1.0-rc_1"},
		{"uppercase first component is a host", "Registry/app",
			reference.Reference{Registry: "Registry", Repository: "app", Tag: "latest"},
			"Registry/app:latest", "Registry/app:latest"},
		{"separators", "example.test/a_b/c__d/e-f--g/h.i:T_1",
			reference.Reference{Registry: "example.test", Repository: "a_b/c__d/e-f--g/h.i", Tag: "T_1"},
			"example.test/a_b/c__d/e-f--g/h.i:T_1", "example.test/a_b/c__d/e-f--g/h.i:T_1"},
		{"tag and digest", "alpine:3.19.1@" + alpineDigest,
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Tag: "3.19.1", Digest: alpineDigest},
			"docker.io/library/alpine:3.19.1@" + alpineDigest, "alpine:3.19.1@" + alpineDigest},
		{"digest only", "alpine@" + alpineDigest,
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Digest: alpineDigest},
			"docker.io/library/alpine@" + alpineDigest, "alpine@" + alpineDigest},
		{"digest only with port", "localhost:5000/x@" + alpineDigest,
			reference.Reference{Registry: "localhost:5000", Repository: "x", Digest: alpineDigest},
			"localhost:5000/x@" + alpineDigest, "localhost:5000/x@" + alpineDigest},
		{"longest tag", "alpine:" + strings.Repeat("t", 128),
			reference.Reference{Registry: "docker.io", Repository: "library/alpine", Tag: strings.Repeat("t", 128)},
			"docker.io/library/alpine:" + strings.Repeat("t", 128), "alpine:" + strings.Repeat("t", 128)},
		{"longest name", "example.test/" + strings.Repeat("a", 255-len("example.test/")),
			reference.Reference{Registry: "example.test", Repository: strings.Repeat("a", 255-len("example.test/")), Tag: "latest"},
			"example.test/" + strings.Repeat("a", 255-len("example.test/")) + ":latest", "example.test/" + strings.Repeat("a", 255-len("example.test/")) + ":latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reference.Parse(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.str)
			}
			if s := got.Familiar(); s != tt.familiar {
				t.Errorf("Parse(%q).Familiar() = %q, want %q", tt.in, s, tt.familiar)
			}
			for _, form := range []string{got.String(), got.Familiar()} {
				if again, err := reference.Parse(form); err != nil || again != got {
					t.Errorf("Parse(%q) = %+v, %v, want %+v", form, again, err, got)
				}
			}
		})
	}
}

func TestParseReferenceErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr []error
		wantIn  string
	}{
		{"empty", "", []error{errs.ErrInvalidReference}, "empty"},
		{"leading space", " alpine", []error{errs.ErrInvalidReference}, "space"},
		{"trailing space", "alpine ", []error{errs.ErrInvalidReference}, "space"},
		{"trailing newline", "alpine\n", []error{errs.ErrInvalidReference}, "space"},
		{"inner space", "al pine", []error{errs.ErrInvalidReference}, `"al pine"`},
		{"space in tag", "alpine:3 19", []error{errs.ErrInvalidReference}, `tag "3 19"`},
		{"uppercase repository", "Alpine", []error{errs.ErrInvalidReference}, `path component "Alpine"`},
		{"uppercase path component", "docker.io/Library/alpine", []error{errs.ErrInvalidReference}, `path component "Library"`},
		{"uppercase after host", "example.test/Team/app", []error{errs.ErrInvalidReference}, `path component "Team"`},
		{"empty tag", "alpine:", []error{errs.ErrInvalidReference}, `tag ""`},
		{"tag starting with dash", "alpine:-x", []error{errs.ErrInvalidReference}, `tag "-x"`},
		{"tag starting with dot", "alpine:.x", []error{errs.ErrInvalidReference}, `tag ".x"`},
		{"tag with slash-free bad char", "alpine:a+b", []error{errs.ErrInvalidReference}, `tag "a+b"`},
		{"tag too long", "alpine:" + strings.Repeat("t", 129), []error{errs.ErrInvalidReference}, "tag"},
		{"only tag", ":3.19", []error{errs.ErrInvalidReference}, "no repository"},
		{"only digest", "@" + alpineDigest, []error{errs.ErrInvalidReference}, "no repository"},
		{"empty component", "example.test//app", []error{errs.ErrInvalidReference}, `path component ""`},
		{"trailing slash", "example.test/app/", []error{errs.ErrInvalidReference}, `path component ""`},
		{"leading slash", "/app", []error{errs.ErrInvalidReference}, `path component ""`},
		{"double dot component", "example.test/../app", []error{errs.ErrInvalidReference}, `path component ".."`},
		{"trailing separator", "example.test/app-", []error{errs.ErrInvalidReference}, `path component "app-"`},
		{"triple underscore", "example.test/a___b", []error{errs.ErrInvalidReference}, `path component "a___b"`},
		{"bad port", "example.test:http/app", []error{errs.ErrInvalidReference}, `registry host "example.test:http"`},
		{"host with scheme", "https://example.test/app", []error{errs.ErrInvalidReference}, `registry host "https:"`},
		{"host with dash edge", "-bad.test/app", []error{errs.ErrInvalidReference}, `registry host "-bad.test"`},
		{"too long", "example.test/" + strings.Repeat("a", 256-len("example.test/")), []error{errs.ErrInvalidReference}, "more than 255"},
		{"too long on docker hub", strings.Repeat("a", 240), []error{errs.ErrInvalidReference}, "more than 255"},
		{"sha512 digest", "alpine@sha512:" + strings.Repeat("a", 128), []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, `algorithm "sha512"`},
		{"short digest", "alpine@sha256:abc", []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, "64 lowercase"},
		{"long digest", "alpine@" + alpineDigest + "0", []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, "64 lowercase"},
		{"uppercase digest", "alpine@" + strings.ToUpper(alpineDigest), []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, `algorithm "SHA256"`},
		{"uppercase hex", "alpine@sha256:" + strings.ToUpper(alpineDigest[7:]), []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, "64 lowercase"},
		{"digest without algorithm", "alpine@" + alpineDigest[7:], []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, "want sha256:"},
		{"empty digest", "alpine@", []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, "want sha256:"},
		{"two digests", "alpine@" + alpineDigest + "@" + alpineDigest, []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, "64 lowercase"},
		{"traversal digest", "alpine@sha256:../../etc/passwd", []error{errs.ErrInvalidReference, errs.ErrInvalidDigest}, "64 lowercase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reference.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, nil, want an error", tt.in, got)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Parse(%q) = %v, want an error wrapping %v", tt.in, err, want)
				}
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Parse(%q) = %v, want it to contain %q", tt.in, err, tt.wantIn)
			}
			if got != (reference.Reference{}) {
				t.Errorf("Parse(%q) = %+v with an error, want the zero Reference", tt.in, got)
			}
		})
	}
}

func TestParseDigest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"canonical", alpineDigest, true},
		{"zeros", "sha256:" + strings.Repeat("0", 64), true},
		{"empty", "", false},
		{"no colon", alpineDigest[7:], false},
		{"sha512", "sha512:" + strings.Repeat("a", 128), false},
		{"sha384", "sha384:" + strings.Repeat("a", 96), false},
		{"short", "sha256:abc", false},
		{"63 characters", alpineDigest[:len(alpineDigest)-1], false},
		{"uppercase", "sha256:" + strings.ToUpper(alpineDigest[7:]), false},
		{"not hex", "sha256:" + strings.Repeat("g", 64), false},
		{"traversal", "sha256:../../etc/passwd", false},
		{"space", alpineDigest + " ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reference.ParseDigest(tt.in)
			switch {
			case tt.ok && (err != nil || got != digest.Digest(tt.in)):
				t.Errorf("ParseDigest(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.in)
			case !tt.ok && (!errors.Is(err, errs.ErrInvalidDigest) || got != ""):
				t.Errorf("ParseDigest(%q) = %q, %v, want an error wrapping %v", tt.in, got, err, errs.ErrInvalidDigest)
			}
		})
	}
}

func TestParseHost(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" for an error
	}{
		{"docker hub", "docker.io", "docker.io"},
		{"index.docker.io", "index.docker.io", "docker.io"},
		{"registry-1.docker.io", "registry-1.docker.io", "docker.io"},
		{"host and port", "registry.internal:5000", "registry.internal:5000"},
		{"localhost", "localhost", "localhost"},
		{"localhost port", "localhost:5000", "localhost:5000"},
		{"ipv4", "127.0.0.1:5000", "127.0.0.1:5000"},
		{"ipv6", "[::1]:5000", "[::1]:5000"},
		{"ipv6 no port", "[::1]", "[::1]"},
		{"empty", "", ""},
		{"scheme", "http://registry.internal", ""},
		{"path", "registry.internal/team", ""},
		{"port not a number", "registry.internal:port", ""},
		{"two ports", "registry.internal:5000:1", ""},
		{"leading dash", "-registry.internal", ""},
		{"trailing dot", "registry.internal.", ""},
		{"space", " registry.internal", ""},
		{"ipv6 without brackets", "::1", ""},
		{"underscore", "my_registry", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reference.ParseHost(tt.in)
			if tt.want == "" {
				if !errors.Is(err, errs.ErrInvalidReference) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
					t.Errorf("ParseHost(%q) = %q, %v, want an error wrapping %v naming the host", tt.in, got, err, errs.ErrInvalidReference)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseHost(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestWithDigest(t *testing.T) {
	ref, err := reference.Parse("alpine:3.19.1")
	if err != nil {
		t.Fatal(err)
	}
	pinned := ref.WithDigest(alpineDigest)
	if got, want := pinned.String(), "docker.io/library/alpine:3.19.1@"+alpineDigest; got != want {
		t.Errorf("WithDigest(%q).String() = %q, want %q", alpineDigest, got, want)
	}
	if ref.Digest != "" {
		t.Errorf("WithDigest changed its receiver: Digest = %q, want empty", ref.Digest)
	}
	if got := pinned.WithoutDigest(); got != ref {
		t.Errorf("WithoutDigest() = %+v, want %+v", got, ref)
	}
	if got, want := pinned.Name(), "docker.io/library/alpine"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
}

func ExampleParse() {
	ref, err := reference.Parse("alpine:3.19.1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ref)
	fmt.Println(ref.Familiar())
	fmt.Println(ref.Registry, ref.Repository, ref.Tag)

	_, err = reference.Parse("Alpine")
	fmt.Println(err)
	// Output:
	// docker.io/library/alpine:3.19.1
	// alpine:3.19.1
	// docker.io library/alpine 3.19.1
	// invalid reference "Alpine": path component "Alpine" must be lowercase letters and digits separated by '.', '_', '__' or '-'
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"alpine", "alpine:3.19.1", "docker.io/library/alpine:3.19.1@" + alpineDigest, "index.docker.io/busybox",
		"localhost:5000/x", "127.0.0.1:5000/a/b:tag", "[::1]:5000/x", "alpine@" + alpineDigest, "Registry/app",
		"example.test/a_b/c__d/e-f--g/h.i:T_1", "docker.io/library/a/b", "alpine@sha512:abc", "", ":", "@", "a:b@c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := reference.Parse(s)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidReference) {
				t.Fatalf("Parse(%q) = %v, want an error wrapping %v", s, err, errs.ErrInvalidReference)
			}
			return
		}
		if ref.Registry == "" || ref.Repository == "" || (ref.Tag == "" && ref.Digest == "") {
			t.Fatalf("Parse(%q) = %+v, want registry, repository and a tag or digest", s, ref)
		}
		for _, form := range []string{ref.String(), ref.Familiar()} {
			again, err := reference.Parse(form)
			if err != nil || again != ref {
				t.Fatalf("Parse(%q) = %+v, %v, want %+v (from %q)", form, again, err, ref, s)
			}
		}
		if _, err := reference.ParseHost(ref.Registry); err != nil {
			t.Fatalf("ParseHost(%q) = %v, want nil for the registry of %q", ref.Registry, err, s)
		}
	})
}
