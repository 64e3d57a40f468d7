package output

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// HostKey is the attribute every ncnpush log line carries.
const HostKey = "host"

// NoHost is the value of [HostKey] on lines about no host in particular.
const NoHost = "-"

// HandlerOptions configures [NewHandler].
type HandlerOptions struct {
	// Level is the minimum level logged; nil means slog.LevelInfo.
	Level slog.Leveler
	// Redactor masks secrets in messages and attribute values; nil redacts
	// nothing.
	Redactor *Redactor
	// JSON selects slog's JSON handler instead of its text handler.
	JSON bool
}

// Logger returns a text logger writing to w at level. Every line carries
// host= (host=- unless the caller adds one, see [WithHost]).
func Logger(level slog.Leveler, w io.Writer) *slog.Logger {
	return slog.New(NewHandler(w, HandlerOptions{Level: level}))
}

// WithHost returns l with the host attribute set to host.
func WithHost(l *slog.Logger, host string) *slog.Logger {
	return l.With(slog.String(HostKey, host))
}

// NewHandler returns a slog handler writing to w that adds host=- to every
// record lacking a top-level host attribute and redacts every string value
// (and the message) with o.Redactor.
func NewHandler(w io.Writer, o HandlerOptions) slog.Handler {
	red := o.Redactor
	ho := &slog.HandlerOptions{
		Level: o.Level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			return redactAttr(red, a)
		},
	}
	var inner slog.Handler
	if o.JSON {
		inner = slog.NewJSONHandler(w, ho)
	} else {
		inner = slog.NewTextHandler(w, ho)
	}
	return &hostHandler{inner: inner}
}

// redactAttr masks secrets in a's value.
func redactAttr(red *Redactor, a slog.Attr) slog.Attr {
	if red == nil {
		return a
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(red.Redact(v.String()))
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			return a
		}
		if r := red.Redact(s); r != s {
			a.Value = slog.StringValue(r)
		}
	}
	return a
}

// hostHandler guarantees the host attribute.
type hostHandler struct {
	inner   slog.Handler
	hasHost bool // a top-level host attribute is already attached
	grouped bool // WithGroup was called: later attributes are not top level
}

func (h *hostHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *hostHandler) Handle(ctx context.Context, r slog.Record) error {
	// A grouped handler always has a host (WithGroup pins one), so the
	// record's own attributes are top level here.
	if !h.hasHost {
		found := false
		r.Attrs(func(a slog.Attr) bool {
			found = a.Key == HostKey
			return !found
		})
		if !found {
			r.AddAttrs(slog.String(HostKey, NoHost))
		}
	}
	return h.inner.Handle(ctx, r)
}

func (h *hostHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	if !h.grouped {
		for _, a := range attrs {
			if a.Key == HostKey {
				c.hasHost = true
			}
		}
	}
	c.inner = h.inner.WithAttrs(attrs)
	return &c
}

func (h *hostHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	if !h.hasHost {
		// Pin host=- at top level before the group opens; a later host
		// attribute would be inside the group.
		c.inner = h.inner.WithAttrs([]slog.Attr{slog.String(HostKey, NoHost)})
		c.hasHost = true
	}
	c.inner = c.inner.WithGroup(name)
	c.grouped = true
	return &c
}
