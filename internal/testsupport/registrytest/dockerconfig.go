package registrytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// IsolateDockerConfig points every place the default keychain looks for
// credentials (docker's config.json through HOME and DOCKER_CONFIG, the
// XDG folders, podman's REGISTRY_AUTH_FILE) into a temporary folder of the
// test's, and writes config.json there with auths (host: base64 of
// user:password). It returns the file's path. It uses t.Setenv, so the
// test must not be parallel.
func IsolateDockerConfig(t *testing.T, auths map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"} {
		t.Setenv(v, filepath.Join(dir, "empty"))
	}
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	cfg := map[string]map[string]map[string]string{"auths": {}}
	for host, auth := range auths {
		cfg["auths"][host] = map[string]string{"auth": auth}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "docker", "config.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
