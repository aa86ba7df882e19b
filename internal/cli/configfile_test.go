package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// TestConfigOneUTF8Document: a vendorimg.yaml with a second YAML document,
// or in another encoding than UTF-8, is an error naming the file for every
// command that reads it, with kind invalid-config, and changes nothing;
// add of an image already pinned says "unchanged" and changes no byte of a
// file whose formatting and comments are not the ones it writes.
func TestConfigOneUTF8Document(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ref := reg.Host + "/conf/app:1"
	pin := registrytest.Push(t, ref, registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, 907, registrytest.OCI))
	dir := t.TempDir()
	if code, out, errOut := run(t, "-C", dir, "add", ref, "--platform", "linux/amd64"); code != exitOK {
		t.Fatalf("add: exit %d\n%s%s", code, out, errOut)
	}
	path := filepath.Join(dir, "vendorimg.yaml")

	// Hand-written: a comment, a BOM-less header, spacing and quoting add
	// would not write itself.
	hand := fmt.Sprintf("# our images\n\nimages:\n    -   ref:   %q   # the app\n        digest: '%s'\n        platforms: [ linux/amd64 ]\n", ref, pin)
	write(t, path, hand)
	code, out, errOut := run(t, "-C", dir, "add", ref)
	if code != exitOK || !strings.Contains(out, "unchanged") {
		t.Fatalf("add of the pinned image: exit %d, want unchanged\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(path); string(b) != hand {
		t.Errorf("add printed unchanged but rewrote vendorimg.yaml:\n%s\nwas\n%s", b, hand)
	}

	utf16 := func(s string) string {
		var b bytes.Buffer
		b.WriteString("\xff\xfe")
		for _, r := range s {
			b.WriteByte(byte(r))
			b.WriteByte(byte(r >> 8))
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, content, words string
	}{
		{"second document", hand + "---\nimages: []\n", path + ":7: a second YAML document"},
		{"utf-16", utf16(hand), path + ": the file is UTF-16"},
		{"latin-1", strings.Replace(hand, "our images", "nos images \xe0 nous", 1), path + ":1: a byte that is not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(t, path, tc.content)
			before := snapshot(t, dir)
			for _, args := range [][]string{{"sync"}, {"status"}, {"verify"}, {"gc"}, {"outdated"}, {"add", ref}, {"remove", ref}} {
				code, out, errOut := run(t, append([]string{"-C", dir}, args...)...)
				if code != exitFailure || !strings.Contains(errOut, tc.words) {
					t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q\n%s", args[0], code, errOut, tc.words, out)
				}
				_, js, _ := run(t, append([]string{"-C", dir, "--json"}, args...)...)
				var doc struct{ Error, Kind string }
				if err := json.Unmarshal([]byte(js), &doc); err != nil || doc.Kind != kindInvalidConfig || !strings.Contains(doc.Error, tc.words) {
					t.Errorf("%s --json = %s (%v), want kind %q and %q", args[0], js, err, kindInvalidConfig, tc.words)
				}
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("the commands changed files:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}
