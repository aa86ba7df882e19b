package tcimages

import (
	"errors"
	"fmt"
	"os"

	"github.com/testcontainers/testcontainers-go"
)

// RyukDisabledEnv is the environment variable that turns testcontainers-go's
// reaper (Ryuk) off when it is exactly "true".
const RyukDisabledEnv = "TESTCONTAINERS_RYUK_DISABLED"

// DisableReaper turns testcontainers-go's reaper (Ryuk) off for this
// process, so that no container request needs its image, which offline
// cannot be pulled. It sets TESTCONTAINERS_RYUK_DISABLED=true in the
// process environment (child processes inherit it) and checks that
// testcontainers-go's configuration now says the reaper is off.
//
// testcontainers-go reads its configuration once per process, at its first
// use; call DisableReaper from TestMain, before any container is requested.
// After that first read the variable is not read again, and DisableReaper
// fails if the configuration has the reaper on, saying so. Without the
// reaper nothing removes the containers a test leaves behind: terminate
// each one (testcontainers.CleanupContainer, or Terminate). It does not
// touch ~/.testcontainers.properties.
func DisableReaper() error {
	if err := os.Setenv(RyukDisabledEnv, "true"); err != nil {
		return fmt.Errorf("disabling the testcontainers reaper: %w", err)
	}
	if !testcontainers.ReadConfig().Config.RyukDisabled {
		return errors.New("disabling the testcontainers reaper: testcontainers-go read its configuration before " +
			RyukDisabledEnv + " was set; call DisableReaper from TestMain before any container is requested, " +
			"or set " + RyukDisabledEnv + "=true in the environment")
	}
	return nil
}
