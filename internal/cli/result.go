package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/vendorimg/vendorimg/errs"
)

// Error kinds in --json output: the stable "kind" of a failed command's
// document, for callers that branch on why it failed. docs/json.md lists them.
const (
	kindEngineUnreachable = "engine-unreachable"
	kindNotFound          = "not-found"
	kindUnauthorized      = "unauthorized"
	kindCredentials       = "credentials"
	kindOffline           = "offline"
	kindVerifyFailed      = "verify-failed"
	kindIncomplete        = "incomplete"
	kindNoConfig          = "no-config"
	kindInvalidConfig     = "invalid-config"
	kindUsage             = "usage"
	kindPlatformMissing   = "platform-missing"
	kindDigestMismatch    = "digest-mismatch"
	kindInvalidLayout     = "invalid-layout"
	kindInsecure          = "insecure"
	kindTimeout           = "timeout"
	kindSparseIndex       = "sparse-index"
	kindTooDeep           = "too-deep"
	kindCancelled         = "cancelled"
	kindNoSigverify       = "no-sigverify"
	kindError             = "error"
)

// kindOf is the --json kind of err.
func kindOf(err error) string {
	var ue usageError
	switch {
	case errors.As(err, &ue), isCobraUsageError(err):
		return kindUsage
	case errors.Is(err, errs.ErrNoEngine):
		return kindEngineUnreachable
	case errors.Is(err, errs.ErrNoSigverify):
		return kindNoSigverify
	case errors.Is(err, errs.ErrOffline):
		return kindOffline
	case errors.Is(err, errs.ErrUnauthorized):
		return kindUnauthorized
	case errors.Is(err, errs.ErrCredentials):
		return kindCredentials
	case errors.Is(err, errs.ErrNotFound):
		return kindNotFound
	case errors.Is(err, errs.ErrVerifyFailed):
		return kindVerifyFailed
	case errors.Is(err, errIncomplete):
		return kindIncomplete
	case errors.Is(err, errs.ErrNoConfig):
		return kindNoConfig
	case errors.Is(err, errs.ErrConfig):
		return kindInvalidConfig
	case errors.Is(err, errs.ErrInvalidReference), errors.Is(err, errs.ErrInvalidDigest), errors.Is(err, errs.ErrInvalidPlatform), errors.Is(err, errs.ErrInvalidOption):
		return kindUsage
	case errors.Is(err, errs.ErrTooDeep):
		return kindTooDeep
	case errors.Is(err, errs.ErrSparseIndex):
		return kindSparseIndex
	case errors.Is(err, errs.ErrPlatformMissing):
		return kindPlatformMissing
	case errors.Is(err, errs.ErrDigestMismatch), errors.Is(err, errs.ErrSizeMismatch):
		return kindDigestMismatch
	case errors.Is(err, errs.ErrInvalidLayout):
		return kindInvalidLayout
	case errors.Is(err, errs.ErrInsecure):
		return kindInsecure
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, errs.ErrTimeout):
		return kindTimeout
	case errors.Is(err, context.Canceled):
		return kindCancelled
	}
	return kindError
}

// errIncomplete is status's failure: the layout lacks what vendorimg.yaml
// pins.
var errIncomplete = errors.New("the layout is incomplete")

// finish ends a command: with --json it prints v (when not nil) as the
// command's one document, with "error" and "kind" added when err is not
// nil, and marks the output done so that Execute prints no second one. It
// returns err, for the exit code and the message on stderr.
func (g *globals) finish(v any, err error) error {
	if !g.json || g.printed {
		return err
	}
	g.printed = true
	if perr := printJSON(g.stdout, withError(v, err)); perr != nil {
		return errors.Join(err, perr)
	}
	return err
}

// withError is v's JSON object with "error" and "kind" appended (v nil:
// an object with only those), keeping v's field order.
func withError(v any, err error) any {
	if err == nil {
		return v
	}
	tail, _ := marshal(struct {
		Error string `json:"error"`
		Kind  string `json:"kind"`
	}{err.Error(), kindOf(err)})
	if v == nil {
		return json.RawMessage(tail)
	}
	head, merr := marshal(v)
	if merr != nil || len(head) < 2 || head[0] != '{' {
		return json.RawMessage(tail)
	}
	body := head[:len(head)-1]
	if len(bytes.TrimSpace(body)) > 1 {
		body = append(body, ',')
	}
	return json.RawMessage(append(body, tail[1:]...))
}

// marshal is json.Marshal without HTML escaping, as printJSON writes.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}
