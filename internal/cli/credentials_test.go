package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
)

// TestFailingCredentialHelperKeepsItsSecret is promise 8 with a credential
// helper that prints its whole answer, secret included, and then fails
// (exit 1): docker's helper client quotes that output in its error. No
// command's stdout, stderr, -v log or --json document may show the secret
// in any form, and the error names the helper.
func TestFailingCredentialHelperKeepsItsSecret(t *testing.T) {
	const user, secret = "ci", "hunter2-Leaky-5ecret-9d0c"
	open := registrytest.Start(t, registrytest.Options{})
	locked := registrytest.Start(t, registrytest.Options{User: user, Password: secret})
	idx := registrytest.Index(t, []string{"linux/amd64"}, 1, 1000, 811, registrytest.OCI)
	pin := registrytest.Push(t, open.Host+"/app/web:1", idx)

	// A synced layout from the open registry, for push.
	synced := t.TempDir()
	write(t, filepath.Join(synced, "vendorimg.yaml"), fmt.Sprintf("images:\n  - ref: %s/app/web:1\n    digest: %s\n    platforms: [linux/amd64]\n", open.Host, pin))
	if code, out, errOut := run(t, "-C", synced, "sync"); code != exitOK {
		t.Fatalf("sync from the open registry: exit %d\n%s%s", code, out, errOut)
	}

	config := registrytest.IsolateDockerConfig(t, nil)
	if err := os.WriteFile(config, fmt.Appendf(nil, `{"credHelpers":{%q:"leaky"}}`, locked.Host), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	helper := fmt.Sprintf("#!/bin/sh\ncat >/dev/null\nprintf '%%s' '{\"ServerURL\":\"%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}'\nexit 1\n", locked.Host, user, secret)
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-leaky"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	pinned := t.TempDir()
	write(t, filepath.Join(pinned, "vendorimg.yaml"), fmt.Sprintf("images:\n  - ref: %s/app/web:1\n    digest: %s\n    platforms: [linux/amd64]\n", locked.Host, pin))
	forms := []string{secret, base64.StdEncoding.EncodeToString([]byte(user + ":" + secret)), base64.StdEncoding.EncodeToString([]byte(secret)), url64(secret)}
	source := "(credentials from the credential helper docker-credential-leaky, named in " + config + ")"

	for _, tc := range []struct {
		name string
		dir  string
		args []string
	}{
		{"add", t.TempDir(), []string{"add", locked.Host + "/app/web:1"}},
		{"sync", pinned, []string{"sync"}},
		{"outdated", pinned, []string{"outdated"}},
		{"push", synced, []string{"push", locked.Host + "/mirror"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var all strings.Builder
			for _, flags := range [][]string{nil, {"-v"}, {"--json"}, {"--json", "-v"}} {
				args := append(append([]string{"-C", tc.dir}, flags...), tc.args...)
				code, out, errOut := run(t, args...)
				all.WriteString(out + errOut)
				if code != exitFailure {
					t.Errorf("%s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, exitFailure, out, errOut)
				}
				if len(flags) > 0 && flags[0] == "--json" {
					var doc struct{ Error, Kind string }
					if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Kind != kindCredentials || !strings.Contains(doc.Error, source) {
						t.Errorf("%s = %s (%v), want kind %q and an error naming the helper %s", strings.Join(args, " "), out, err, kindCredentials, source)
					}
				} else if !strings.Contains(errOut, source) {
					t.Errorf("%s: stderr = %q, want it to name the helper %s", strings.Join(args, " "), errOut, source)
				}
			}
			for _, s := range forms {
				if strings.Contains(all.String(), s) {
					t.Errorf("%q (the secret) appears in the output:\n%s", s, all.String())
				}
			}
		})
	}
}

// url64 is the URL-safe base64 form, in case a secret leaks that way.
func url64(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }
