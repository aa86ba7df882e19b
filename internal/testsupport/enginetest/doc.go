// Package enginetest tells the engine-facing tests which container engine
// they run against (the one DOCKER_HOST names, or the local socket) and
// whether it can run a container here, so that they assert what that
// engine does instead of assuming one (STYLE.md 16). It is for tests only.
//
// It drives the docker command, as the suites that use it do, and goes
// through package daemon's client only for what the command cannot do on
// every engine (Commit). Each answer is asked once per test binary and
// cached.
package enginetest
