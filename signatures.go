package vendorimg

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/sigexec"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
)

// SignatureVerifier checks, offline, the vendored signatures of each of
// images that has a verify: policy, in the layout l, and returns a finding
// (layout.KindSignature) for each image whose policy is not met; the error
// is for what stops the check. It is called with the layout's shared lock
// held, and must not take the lock itself. sigverify.Verify is one.
type SignatureVerifier func(ctx context.Context, l *layout.Layout, images []config.Image) ([]layout.Finding, error)

// checkSignatures adds to rep a finding (layout.KindSignature) for each
// image whose verify: policy its vendored signatures do not meet, checked
// offline by verify (nil: the vendorimg-sigverify program, see
// CheckOptions.Signatures) under the layout's shared lock. It does nothing
// when no image has a policy or the layout does not exist.
func checkSignatures(ctx context.Context, l *layout.Layout, cfg *config.Config, rep *layout.Report, verify SignatureVerifier, logger *slog.Logger, p progress.Func) error {
	if !slices.ContainsFunc(cfg.Images, func(im config.Image) bool { return im.Verify != nil }) || !l.Exists() {
		return nil
	}
	if verify == nil {
		verify = sigexec.Verifier(cfg, logger)
	}
	lock, err := l.Lock(ctx, false, p)
	if err != nil {
		return err
	}
	// Held for the whole check, the program's run included: it takes no
	// lock of its own.
	defer lock.Unlock()
	findings, err := verify(ctx, l, cfg.Images)
	if err != nil {
		return fmt.Errorf("verifying the signatures in %s: %w", l.Root(), err)
	}
	rep.Findings = append(rep.Findings, findings...)
	slices.SortStableFunc(rep.Findings, func(a, b layout.Finding) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
	return nil
}
