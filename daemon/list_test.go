package daemon

import (
	"context"
	"errors"
	"testing"

	"github.com/moby/moby/api/types/image"
)

// listerOf answers ImageList with its errs in turn, then with one image.
type listerOf struct {
	errs  []error
	calls int
}

func (l *listerOf) ImageList(context.Context) ([]image.Summary, error) {
	l.calls++
	if l.calls <= len(l.errs) {
		return nil, l.errs[l.calls-1]
	}
	return []image.Summary{{ID: "sha256:1"}}, nil
}

// TestListImagesAsksAgainWhenAnImageVanished: podman 4.3 fails a list
// when an image is removed during it; the list is asked again, a bounded
// number of times, and any other error ends it at once.
func TestListImagesAsksAgainWhenAnImageVanished(t *testing.T) {
	vanished := errors.New(`the engine answered 500: retrieving label for image "b3e3": image not known`)
	refused := errors.New("cannot connect to the engine at unix:///var/run/docker.sock")
	for _, tc := range []struct {
		name      string
		errs      []error
		wantErr   error
		wantCalls int
	}{
		{"answers at once", nil, nil, 1},
		{"an image vanished twice", []error{vanished, vanished}, nil, 3},
		{"an image vanished every time", []error{vanished, vanished, vanished}, vanished, listAttempts},
		{"another error", []error{refused}, refused, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &listerOf{errs: tc.errs}
			list, err := listImages(context.Background(), l)
			if !errors.Is(err, tc.wantErr) || l.calls != tc.wantCalls {
				t.Errorf("listImages = %v after %d calls, want %v after %d", err, l.calls, tc.wantErr, tc.wantCalls)
			}
			if err == nil && len(list) != 1 {
				t.Errorf("listImages = %d images, want 1", len(list))
			}
		})
	}
}
