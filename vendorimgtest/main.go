package vendorimgtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/platform"
)

// RequireDockerEnv is the environment variable that makes a docker engine
// required: when it is "1" (or "true"), Main fails at once if none answers,
// instead of letting Image skip the tests that need images. CI should set
// it, so that a broken engine cannot turn the suite into skips.
const RequireDockerEnv = "VENDORIMG_REQUIRE_DOCKER"

// engineTimeout bounds the first request to the engine, which tells
// whether one answers at all.
const engineTimeout = 30 * time.Second

// LockMode says how Main shares the docker engine with other test binaries
// that use this package at the same time (go test ./... runs packages in
// parallel).
type LockMode int

const (
	// LockShared is the default: suites that only use the images run at
	// once, and wait for an exclusive suite to finish.
	LockShared LockMode = iota
	// LockExclusive is for a suite whose tests change the loaded images on
	// purpose (re-tag, remove, commit onto a tag) and restore them: no
	// other suite runs against the engine meanwhile.
	LockExclusive
	// LockNone takes no lock. Use it when nothing else uses the engine, or
	// in a process started by a suite that already holds the lock.
	LockNone
)

// Options configure Main. The zero value loads every configured image for
// the engine's platform and checks the layout by rehashing its blobs.
type Options struct {
	// Config is the vendorimg.yaml to use. Default: the one in the current
	// folder or its nearest parent (config.Find), as a test binary runs in
	// its package's folder.
	Config string
	// Images are the images to load and check, each written in any form
	// that normalises to a configured image ("alpine:3.19.1" for
	// "docker.io/library/alpine:3.19.1"). Default: every image of the
	// config. An image that is not configured is an error.
	Images []string
	// Platform is the vendored platform to load ("linux/arm64"). Default:
	// the engine's own.
	Platform string
	// Deep also decompresses every layer after the tests and checks it
	// against its config's diff_ids. Default false: blobs are rehashed
	// only.
	Deep bool
	// DeepDaemon also exports each loaded image from docker after the
	// tests and rehashes it (daemon.CheckOptions.DeepDaemon, as "vendorimg
	// verify --daemon --deep" does), so that a file changed inside the
	// engine's storage fails the run, naming the layer; it costs reading
	// every image from the engine once more. Default false: the tags' image
	// IDs and layer lists are compared, which such a change leaves as they
	// were.
	DeepDaemon bool
	// Lock says how the engine is shared with other suites. Default
	// LockShared.
	Lock LockMode
	// Stderr receives Main's messages: the load when tests run with -v,
	// and every problem. Default os.Stderr.
	Stderr io.Writer
	// NoRestore keeps what a test changed (for debugging) instead of
	// putting the vendored image back after the test that Image's check
	// names. Default false: the next test gets the vendored image.
	NoRestore bool
}

// runner is what Main needs of *testing.M.
type runner interface{ Run() int }

// Main is a TestMain body: it loads the vendored images into docker, runs
// the package's tests with m.Run, checks that nothing changed, and returns
// the exit code for os.Exit. The code is m.Run's, or 1 when the
// configuration is wrong, when an image fails to load (then no test runs),
// or when the check after the tests finds anything (see the package
// documentation, which also says what happens without a docker engine).
// Main calls flag.Parse if TestMain has not, so that -test.v is known
// before the tests run. It never unloads the images: the next run finds
// them and skips the load.
func Main(m *testing.M, opts Options) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	return run(context.Background(), m, opts, setCurrent)
}

// current is the session Main started, which Image and Lookup read.
var (
	mu      sync.Mutex
	current *session
)

func setCurrent(s *session) {
	mu.Lock()
	defer mu.Unlock()
	current = s
}

func getCurrent() *session {
	mu.Lock()
	defer mu.Unlock()
	return current
}

// engineClient is the engine client Main uses: daemon's WatchClient, plus
// what *daemon.APIClient has to name and close the connection.
type engineClient interface {
	daemon.WatchClient
	DaemonHost() string
	Close() error
}

// newClient is daemon.NewClient; a variable so that it is named once.
var newClient = func() (engineClient, error) { return daemon.NewClient() }

// session is one Main run: the configuration, the engine and what was
// loaded.
type session struct {
	cfg    *config.Config
	images []config.Image
	layout *layout.Layout
	deep   bool
	// deepDaemon is Options.DeepDaemon.
	deepDaemon bool
	stderr     io.Writer

	client engineClient
	host   string
	// noEngine is why no engine answers (it wraps errs.ErrNoEngine); nil
	// when one does.
	noEngine error
	load     *daemon.LoadReport
	unlock   func()
	// before are the keys of the problems the check before the tests
	// found (see checkBefore).
	before map[string]bool
	// platform is Options.Platform; noRestore Options.NoRestore.
	platform  *platform.Platform
	noRestore bool
	// iso is the per-test check (isolate.go).
	iso isolation
	// tests is the lock the tests hold on the images (testlock.go).
	tests testLock
}

// run is Main with a context, any runner, and a hook that publishes the
// session to Image for the duration of the tests.
func run(ctx context.Context, m runner, opts Options, publish func(*session)) int {
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	s, err := start(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vendorimgtest: %v\n", err)
		return 1
	}
	defer s.close()
	if publish != nil {
		publish(s)
		defer publish(nil)
	}
	s.checkBefore(ctx)
	code := m.Run()
	if r := s.culpritsReport(); r != "" {
		fmt.Fprint(stderr, r)
	}
	if !s.check(ctx) && code == 0 {
		code = 1
	}
	return code
}

// start reads the configuration, finds the engine, takes the lock and
// loads the images. Its error says what is wrong; no test should run.
func start(ctx context.Context, opts Options, stderr io.Writer) (_ *session, err error) {
	required, err := requireDocker()
	if err != nil {
		return nil, err
	}
	var loadOpts daemon.LoadOptions
	if opts.Platform != "" {
		p, err := platform.Parse(opts.Platform)
		if err != nil {
			return nil, fmt.Errorf("invalid Options.Platform: %w", err)
		}
		loadOpts.Platform = &p
	}
	if opts.Lock < LockShared || opts.Lock > LockNone {
		return nil, fmt.Errorf("invalid Options.Lock: unknown lock mode %d", opts.Lock)
	}
	path := opts.Config
	if path == "" {
		if path, err = config.Find("."); err != nil {
			return nil, err
		}
	}
	cfg, err := config.Load(ctx, path)
	if err != nil {
		return nil, err
	}
	images, err := cfg.Select(opts.Images)
	if err != nil {
		return nil, fmt.Errorf("invalid Options.Images: %w", err)
	}
	s := &session{cfg: cfg, images: images, layout: layout.New(cfg.LayoutDir()), deep: opts.Deep, deepDaemon: opts.DeepDaemon, stderr: stderr, platform: loadOpts.Platform, noRestore: opts.NoRestore}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.client, err = newClient(); err != nil {
		return nil, err
	}
	s.host = s.client.DaemonHost()
	probeCtx, cancel := context.WithTimeout(ctx, engineTimeout)
	_, err = daemon.Inspect(probeCtx, s.client)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		// An address where nothing answers (a firewalled tcp:// host) is no
		// engine too, not a broken one.
		err = fmt.Errorf("%w: no answer within %v: %w", errs.ErrNoEngine, engineTimeout, err)
	}
	switch {
	case errors.Is(err, errs.ErrNoEngine) && required:
		return nil, fmt.Errorf("%s=1 requires a docker engine, and none answers at %s: %w", RequireDockerEnv, s.host, err)
	case errors.Is(err, errs.ErrNoEngine):
		s.noEngine = fmt.Errorf("%w at %s: vendorimgtest skips tests that need images (set %s=1 to make this an error): %w", errs.ErrNoEngine, s.host, RequireDockerEnv, err)
		fmt.Fprintf(stderr, "vendorimgtest: no docker engine at %s: tests that need images will skip\n", s.host)
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("docker at %s: %w", s.host, err)
	}
	if opts.Lock != LockNone {
		if s.unlock, err = lockEngine(ctx, s.host, opts.Lock == LockExclusive, func(file string) {
			fmt.Fprintf(stderr, "vendorimgtest: waiting for another test suite using docker at %s (lock %s)\n", s.host, file)
		}); err != nil {
			return nil, err
		}
	}
	s.load, err = daemon.Load(ctx, s.client, s.layout, images, loadOpts)
	if err != nil {
		return nil, loadFailure(s.host, s.load, err)
	}
	if testing.Verbose() {
		for _, r := range s.load.Images {
			fmt.Fprintf(stderr, "vendorimgtest: %s (%s) %s: %s in %v\n", nameOf(r), r.Platform, r.ImageID, r.Action, r.Duration.Round(time.Millisecond))
		}
	}
	return s, nil
}

// requireDocker reads RequireDockerEnv.
func requireDocker() (bool, error) {
	v := os.Getenv(RequireDockerEnv)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want 1 or 0", RequireDockerEnv, v)
	}
	return b, nil
}

// loadFailure says which images failed to load and why.
func loadFailure(host string, rep *daemon.LoadReport, err error) error {
	if rep == nil || len(rep.Images) == 0 {
		return fmt.Errorf("loading images into docker at %s: %w; no test ran", host, err)
	}
	msg := fmt.Sprintf("loading images into docker at %s failed; no test ran:", host)
	for _, r := range rep.Images {
		if r.Error != "" {
			msg += fmt.Sprintf("\n  %s: %s", nameOf(r), r.Error)
		}
	}
	return errors.New(msg)
}

// nameOf is how a loaded image is shown: its docker tag, or its reference.
func nameOf(r daemon.LoadResult) string {
	if r.Tag != "" {
		return r.Tag
	}
	return r.Ref
}

func (s *session) close() {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
}
