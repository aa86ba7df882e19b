package registry

import (
	"log/slog"
	"slices"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/version"
)

// ConfigOptions configure ForConfig.
type ConfigOptions struct {
	// Insecure adds hosts that may be reached over plain http to the
	// configuration's, as the --insecure-registry flag does. Default none.
	Insecure []string
	// Logger receives the client's requests at debug level. Default:
	// discard.
	Logger *slog.Logger
	// Options are applied after vendorimg's own (WithTimeouts, WithRetry,
	// WithNotice, WithTransport, ...). Default none.
	Options []Option
}

// ForConfig returns the registry client vendorimg's commands use for cfg:
// its mirrors, its insecure hosts plus o.Insecure, credentials from the
// docker config, a vendorimg/VERSION User-Agent, then o.Options. It is the
// one place sync, add, update, outdated and push get a client from.
func ForConfig(cfg *config.Config, o ConfigOptions) *Client {
	all := []Option{
		WithMirrors(cfg.Mirrors),
		WithInsecure(append(slices.Clone(cfg.Insecure), o.Insecure...)...),
		WithUserAgent("vendorimg/" + version.Module()),
	}
	if o.Logger != nil {
		all = append(all, WithLogger(o.Logger))
	}
	return NewClient(append(all, o.Options...)...)
}
