package testsupport_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoProductionImport checks the promise of the package doc: no
// package of the module but the test support itself imports test support
// in its non-test files (go list's Imports leave out _test.go files).
func TestNoProductionImport(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/vendorimg/vendorimg/...")
	// .ci/run's GOFLAGS=-json would make go list print JSON.
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var production int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if strings.Contains(pkg, "/internal/testsupport") {
			continue
		}
		production++
		if strings.Contains(imports, "/internal/testsupport") {
			t.Errorf("%s imports test support: %s", pkg, imports)
		}
	}
	if production < 20 {
		t.Fatalf("go list listed %d production packages; too few for the check to mean anything", production)
	}
}
