package registry

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// credentialSource says where the credentials the client used for host
// come from, for an error message: which docker config file, which
// credential helper, or that there were none. Never the credentials.
func (c *Client) credentialSource(host string) string {
	if c.keychain != authn.DefaultKeychain {
		return "credentials from the keychain the client was given"
	}
	return dockerCredentialSource(apiHost(host), host)
}

// dockerCredentialSource follows the lookup of go-containerregistry's
// authn.DefaultKeychain: ~/.docker/config.json or $DOCKER_CONFIG's, else
// $REGISTRY_AUTH_FILE, else podman's auth.json; in the file, a credential
// helper for the host, then the credential store, then "auths". name is
// the host as the user wrote it, for the docker login hint.
func dockerCredentialSource(apiHost, name string) string {
	path := dockerConfigPath()
	if path == "" {
		return fmt.Sprintf("no credentials: no docker config file (~/.docker/config.json, $DOCKER_CONFIG/config.json); docker login %s writes one", name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("credentials from %s, which cannot be read: %v", path, err)
	}
	var cf struct {
		Auths       map[string]json.RawMessage `json:"auths"`
		CredsStore  string                     `json:"credsStore"`
		CredHelpers map[string]string          `json:"credHelpers"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		return fmt.Sprintf("credentials from %s, which is not valid JSON", path)
	}
	for key, helper := range cf.CredHelpers {
		if configHost(key) == apiHost {
			return fmt.Sprintf("credentials from the credential helper docker-credential-%s, named in %s", helper, path)
		}
	}
	if cf.CredsStore != "" {
		return fmt.Sprintf("credentials from the credential store docker-credential-%s, named in %s", cf.CredsStore, path)
	}
	for key := range cf.Auths {
		if configHost(key) == apiHost {
			return "credentials from " + path
		}
	}
	return fmt.Sprintf("no credentials for %s in %s; docker login %s adds them", name, path, name)
}

// dockerConfigPath is the file authn.DefaultKeychain reads, or "".
func dockerConfigPath() string {
	home, _ := os.UserHomeDir()
	dockerDir := os.Getenv("DOCKER_CONFIG")
	if (home != "" && isFile(filepath.Join(home, ".docker", "config.json"))) || (dockerDir != "" && isFile(filepath.Join(dockerDir, "config.json"))) {
		if dockerDir == "" {
			dockerDir = filepath.Join(home, ".docker")
		}
		return filepath.Join(dockerDir, "config.json")
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" && isFile(p) {
		return filepath.Clean(p)
	}
	configDir := os.Getenv("XDG_CONFIG_HOME")
	if configDir == "" && home != "" {
		configDir = filepath.Join(home, ".config")
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" && isFile(filepath.Join(rt, "containers", "auth.json")) {
		return filepath.Join(rt, "containers", "auth.json")
	}
	if configDir != "" && isFile(filepath.Join(configDir, "containers", "auth.json")) {
		return filepath.Join(configDir, "containers", "auth.json")
	}
	return ""
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// configHost is the host:port of a key of a docker config's "auths" or
// "credHelpers", which may be a URL ("https://index.docker.io/v1/").
func configHost(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			return u.Host
		}
	}
	h, _, _ := strings.Cut(key, "/")
	return h
}
