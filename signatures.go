package vendorimg

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/sigverify"
)

// checkSignatures adds to rep a finding (layout.KindSignature) for each
// image whose verify: policy its vendored signatures do not meet, checked
// offline under the layout's shared lock (see sigverify.Verify).
func checkSignatures(ctx context.Context, l *layout.Layout, cfg *config.Config, rep *layout.Report, p progress.Func) error {
	if !slices.ContainsFunc(cfg.Images, func(im config.Image) bool { return im.Verify != nil }) || !l.Exists() {
		return nil
	}
	lock, err := l.Lock(ctx, false, p)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	findings, err := sigverify.Verify(ctx, l, cfg.Images)
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
