package vendorimg_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportGraph keeps heavy dependencies fenced (STYLE.md 10), on the
// transitive dependencies go list reports, not only on direct imports: the
// packages that name images, read vendorimg.yaml or handle the layout link
// no networking code at all; no package links the docker project's client
// (package daemon speaks the Engine API itself: that client and what it
// brings were most of every command's start-up), only test support does,
// for containers; no package links github.com/distribution/reference,
// whose regexps are compiled at init (the costliest init of the binary):
// package reference has the grammar written by hand, and only its tests
// compare it with distribution's; only package sigverify links the
// Sigstore libraries, and only the vendorimg-sigverify program links
// sigverify: the vendorimg command, the root package and the code that
// runs the program (internal/sigexec) link neither, so that no command
// pays for their init at start-up. Tests are not in go list's graph:
// sigverify's own tests and the system tests that check in process may
// import it.
func TestImportGraph(t *testing.T) {
	const mod = "github.com/vendorimg/vendorimg"
	noNetwork := []string{mod + "/reference", mod + "/platform", mod + "/manifest", mod + "/config", mod + "/layout", mod + "/errs", mod + "/progress", mod + "/internal/disk"}
	networking := []string{"net", "net/http", "crypto/tls"}
	syncSide := []string{mod + "/registry", mod + "/syncer", mod + "/pusher", mod + "/serve"}
	noSigstore := []string{mod, mod + "/cmd/vendorimg", mod + "/internal/cli", mod + "/internal/sigexec"}
	const sigverifyProgram = mod + "/cmd/vendorimg-sigverify"

	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := map[string]bool{}
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list: %v", err)
		}
		fenced := slices.Contains(noNetwork, p.ImportPath)
		for _, dep := range p.Deps {
			if fenced && slices.Contains(networking, dep) {
				t.Errorf("%s links %s: it must not be able to open a connection (go list -deps %s)", p.ImportPath, dep, p.ImportPath)
			}
			if isDockerClient(dep) && !strings.HasPrefix(p.ImportPath, mod+"/internal/testsupport/") {
				t.Errorf("%s links %s: vendorimg speaks the Engine API with its own client (daemon.APIClient); only test support links docker's", p.ImportPath, dep)
			}
			if isSigstore(dep) && p.ImportPath != mod+"/sigverify" && !slices.Contains(p.Deps, mod+"/sigverify") {
				t.Errorf("%s links %s without going through package sigverify: the Sigstore libraries stay behind it", p.ImportPath, dep)
			}
			if (fenced || slices.Contains(syncSide, p.ImportPath)) && (isSigstore(dep) || dep == mod+"/sigverify") {
				t.Errorf("%s links %s: only signature verification links the Sigstore libraries", p.ImportPath, dep)
			}
			if isDistributionReference(dep) && !strings.HasPrefix(p.ImportPath, mod+"/internal/testsupport/") {
				t.Errorf("%s links %s: its regexps are compiled at init; the grammar is written by hand in package reference (go list -deps %s)", p.ImportPath, dep, p.ImportPath)
			}
			if slices.Contains(noSigstore, p.ImportPath) && (isSigstore(dep) || dep == mod+"/sigverify") {
				t.Errorf("%s links %s: vendorimg runs the vendorimg-sigverify program to check signatures (internal/sigexec), so that its start-up does not pay for the Sigstore libraries' init", p.ImportPath, dep)
			}
			if dep == mod+"/sigverify" && p.ImportPath != sigverifyProgram {
				t.Errorf("%s links %s: only %s does (vendorimg runs it; a library user may pass sigverify.Verify as vendorimg.CheckOptions.Signatures)", p.ImportPath, dep, sigverifyProgram)
			}
		}
		if p.ImportPath == sigverifyProgram && !slices.Contains(p.Deps, mod+"/sigverify") {
			t.Errorf("%s does not link %s: what checks the signatures then?", p.ImportPath, mod+"/sigverify")
		}
		if fenced || slices.Contains(syncSide, p.ImportPath) || slices.Contains(noSigstore, p.ImportPath) || p.ImportPath == sigverifyProgram {
			checked[p.ImportPath] = true
		}
		if slices.Contains(syncSide, p.ImportPath) {
			// The sync side never links the docker client, even through daemon.
			for _, dep := range p.Deps {
				if isDockerClient(dep) || dep == mod+"/daemon" {
					t.Errorf("%s links %s: the registry and sync side must not link the docker client", p.ImportPath, dep)
				}
			}
		}
	}
	for _, pkg := range slices.Concat(noNetwork, syncSide, noSigstore, []string{sigverifyProgram}) {
		if !checked[pkg] {
			t.Errorf("%s was not in go list's output: renamed? update the fence", pkg)
		}
	}
}

// isSigstore reports whether path is a Sigstore library package, which
// only package sigverify imports.
func isSigstore(path string) bool {
	return strings.HasPrefix(path, "github.com/sigstore/")
}

// isDistributionReference reports whether path is
// github.com/distribution/reference, docker's reference parser.
func isDistributionReference(path string) bool {
	return path == "github.com/distribution/reference"
}

func isDockerClient(path string) bool {
	return strings.HasPrefix(path, "github.com/moby/moby/client") || strings.HasPrefix(path, "github.com/docker/docker/client")
}
