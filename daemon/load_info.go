package daemon

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/vendorimg/vendorimg/platform"
)

// podman answers /info slowly: it runs conmon and the OCI runtime for
// their versions and asks the package manager which packages they came
// from (150 ms on a quiet machine, seconds beside a busy test run), and a
// load must know the engine's platform and image store before it changes
// anything. So a load into podman on a local socket asks /info in the
// background and goes on under an assumption, the platform this machine
// runs (or the one LoadOptions.Platform names) and the classic store
// (podman's), doing what changes nothing, and what a later removal undoes
// exactly: the layout's reading, the engine's inspections, and the pull
// under a temporary name. Before the first change that stays (a tag, a
// removal, an archive sent) it waits for the answer (loader.settle); an
// engine that is not what was assumed gets nothing changed, the
// temporary names are removed, and the load starts again with the
// engine's answer (internal/testsupport/bench/FINDINGS.md, fifth round).

// errAssumed: the engine is not what a load into it assumed (settle).
var errAssumed = errors.New("the engine's platform or image store is not the one the load assumed")

// pendingInfo is the engine's /info, asked in the background.
type pendingInfo struct {
	done chan struct{}
	eng  Engine
	err  error
}

// askInfo asks c's /info in the background.
func askInfo(ctx context.Context, c Client) *pendingInfo {
	p := &pendingInfo{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.eng, p.err = Inspect(ctx, c)
	}()
	return p
}

// wait returns the answer, or ctx's error first.
func (p *pendingInfo) wait(ctx context.Context) (Engine, error) {
	select {
	case <-p.done:
		return p.eng, p.err
	case <-ctx.Done():
		return Engine{}, ctx.Err()
	}
}

// assumeEngine returns the engine a load into c may assume while c's
// /info is asked in the background, and true, when c is podman on a unix
// socket of this machine, the load may pull (not LoadOptions.Archive), and
// the platform is certain enough: LoadOptions.Platform, or this process's
// own on linux (not 32-bit arm, whose variant the process does not say).
func assumeEngine(ctx context.Context, c Client, opts LoadOptions) (Engine, bool) {
	if opts.Archive {
		return Engine{}, false
	}
	if _, ok := podmanSocket(ctx, c); !ok {
		return Engine{}, false
	}
	want := platform.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch {
	case opts.Platform != nil:
		want = *opts.Platform
	case runtime.GOOS != "linux" || runtime.GOARCH == "arm":
		return Engine{}, false
	}
	return Engine{Platform: want.String(), Store: StoreClassic, platform: want}, true
}

// settlement is what a loader that assumed its engine learns from the
// engine's /info.
type settlement struct {
	info *pendingInfo
	// platformGiven: the load's platform was LoadOptions.Platform, so only
	// the store can be wrong.
	platformGiven bool
	assumed       Engine
	once          sync.Once
	eng           Engine
	err           error
}

// settle waits, when the loader assumed its engine, for the engine's
// /info, and says whether the load may change the engine: errAssumed when
// the engine is not what was assumed, the error of /info when it failed.
// A loader that asked /info first settles at once.
func (ld *loader) settle(ctx context.Context) error {
	if ld.settlement == nil {
		return nil
	}
	return ld.settlement.settle(ctx)
}

// settle waits for the engine's /info and compares it with what was
// assumed, once; a cancelled ctx is returned and settles nothing.
func (s *settlement) settle(ctx context.Context) error {
	eng, err := s.info.wait(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.once.Do(func() {
		s.eng, s.err = eng, err
		switch {
		case err != nil:
		case eng.Store != s.assumed.Store:
			s.err = errAssumed
		case !s.platformGiven && !eng.platform.Matches(s.assumed.platform.OCI()):
			s.err = errAssumed
		}
	})
	return s.err
}
