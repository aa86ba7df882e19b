package vendorimg_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportGraph keeps heavy dependencies fenced (STYLE.md 10): only
// package daemon imports the docker client, and the layout and the
// packages below it open no connection because they cannot.
func TestImportGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/vendorimg/vendorimg"
	noNetwork := map[string]bool{mod + "/layout": true, mod + "/manifest": true, mod + "/platform": true, mod + "/errs": true}
	noDocker := map[string]bool{mod: true, mod + "/layout": true, mod + "/oci": true, mod + "/config": true, mod + "/manifest": true, mod + "/platform": true}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		pkg, imports, deps := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2])
		for _, imp := range imports {
			if isDockerClient(imp) && pkg != mod+"/daemon" {
				t.Errorf("%s imports %s: only %s/daemon may import the docker client", pkg, imp, mod)
			}
		}
		for _, dep := range deps {
			if noNetwork[pkg] && (dep == "net" || dep == "net/http" || dep == "crypto/tls") {
				t.Errorf("%s depends on %s: it must not be able to open a connection", pkg, dep)
			}
			if noDocker[pkg] && isDockerClient(dep) {
				t.Errorf("%s depends on %s: the docker client stays behind package daemon", pkg, dep)
			}
		}
		if noNetwork[pkg] || noDocker[pkg] {
			seen++
		}
	}
	if seen != 7 {
		t.Errorf("checked %d of the 7 fenced packages: go list output changed?", seen)
	}
}

func isDockerClient(path string) bool {
	return strings.HasPrefix(path, "github.com/moby/moby/client") || strings.HasPrefix(path, "github.com/docker/docker/client")
}
