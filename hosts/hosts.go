// Package hosts holds the hosts of a run: each inventory host with its SSH
// connection and the values phases registered on it, and the Hosts slice
// type with the iteration helpers phases use (Each, ParallelEach, Batches).
package hosts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/ncnpush/ncnpush/inventory"
	"github.com/ncnpush/ncnpush/transport"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotConnected: a host has no connection (Connect was not called or
	// failed for it).
	ErrNotConnected = errors.New("host not connected")
	// ErrNotStarted: the context ended before the work on a host started.
	ErrNotStarted = errors.New("not started")
	// ErrPanic: the work on a host panicked; the panic was recovered.
	ErrPanic = errors.New("panic")
	// ErrSelect: a host pattern could not be resolved.
	ErrSelect = errors.New("select hosts")
)

// Conn is a connection to one host: what phases need of an SSH client.
// *transport.Client satisfies it; tests use a local implementation.
type Conn interface {
	// Run feeds script to bash -euo pipefail -s on the host.
	Run(ctx context.Context, script string, opts transport.RunOptions) (transport.RunResult, error)
	// Upload copies r to a file on the host.
	Upload(ctx context.Context, r io.Reader, opts transport.UploadOptions) error
	// Download streams a file of the host into w and returns its size.
	Download(ctx context.Context, w io.Writer, opts transport.DownloadOptions) (int64, error)
	// Close closes the connection.
	Close() error
}

// Host is one inventory host in a run.
type Host struct {
	*inventory.Host

	// Conn is the host's connection, set by Connect (nil before).
	Conn Conn

	// Facts holds what phases registered on this host, by register name
	// (see tasks.Phase.Register). Use SetFact and Fact, which lock: hosts
	// running in parallel register at the same time as others read.
	Facts map[string]any

	mu sync.RWMutex
}

// New wraps an inventory host.
func New(h *inventory.Host) *Host { return &Host{Host: h, Facts: map[string]any{}} }

// FromInventory wraps inventory hosts, keeping their order.
func FromInventory(hs []*inventory.Host) Hosts {
	out := make(Hosts, len(hs))
	for i, h := range hs {
		out[i] = New(h)
	}
	return out
}

// String returns the host's inventory name.
func (h *Host) String() string { return h.Name }

// SetFact registers value under name on h.
func (h *Host) SetFact(name string, value any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.Facts == nil {
		h.Facts = map[string]any{}
	}
	h.Facts[name] = value
}

// Fact returns the value registered under name on h.
func (h *Host) Fact(name string) (any, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	v, ok := h.Facts[name]
	return v, ok
}

// FactsCopy returns a shallow copy of h's registered values.
func (h *Host) FactsCopy() map[string]any {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[string]any, len(h.Facts))
	for k, v := range h.Facts {
		out[k] = v
	}
	return out
}

// HostError is an error that happened on one host. Every error returned by
// Each, ParallelEach and Connect is, or joins, HostErrors; errors.As finds
// them.
type HostError struct {
	Host string // inventory name
	Err  error  // what went wrong there
}

// Error formats e as "host NAME: ERR".
func (e *HostError) Error() string { return "host " + e.Host + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *HostError) Unwrap() error { return e.Err }

// Hosts is an ordered list of hosts (inventory order).
type Hosts []*Host

// Names returns the hosts' inventory names, in order.
func (hs Hosts) Names() []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

// Filter returns the hosts for which keep returns true, in order.
func (hs Hosts) Filter(keep func(*Host) bool) Hosts {
	var out Hosts
	for _, h := range hs {
		if keep(h) {
			out = append(out, h)
		}
	}
	return out
}

// First returns the first host, or nil if there is none.
func (hs Hosts) First() *Host {
	if len(hs) == 0 {
		return nil
	}
	return hs[0]
}

// Find returns the host called name, or nil.
func (hs Hosts) Find(name string) *Host {
	for _, h := range hs {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Batches splits hs into consecutive groups of at most n hosts (one group
// of all when n <= 0).
func (hs Hosts) Batches(n int) []Hosts {
	if n <= 0 || n >= len(hs) {
		if len(hs) == 0 {
			return nil
		}
		return []Hosts{hs}
	}
	var out []Hosts
	for c := range slices.Chunk(hs, n) {
		out = append(out, c)
	}
	return out
}

// Selector resolves a host pattern; *inventory.Inventory satisfies it.
type Selector interface {
	Select(pattern string) ([]*inventory.Host, error)
}

// Select returns the hosts of hs that sel selects with pattern, in hs order.
// hs is normally every host of the run (already narrowed by --limit), so a
// pattern never reaches beyond them. A nil sel understands only "all" and "*".
func (hs Hosts) Select(sel Selector, pattern string) (Hosts, error) {
	if sel == nil {
		if pattern == "all" || pattern == "*" || pattern == "" {
			return slices.Clone(hs), nil
		}
		return nil, fmt.Errorf("%w %q: no inventory to resolve it", ErrSelect, pattern)
	}
	picked, err := sel.Select(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrSelect, pattern, err)
	}
	names := make(map[string]bool, len(picked))
	for _, h := range picked {
		names[h.Name] = true
	}
	return hs.Filter(func(h *Host) bool { return names[h.Name] }), nil
}

// Each runs fn on each host in order, one at a time, and stops at the first
// error, which it returns as a *HostError.
func (hs Hosts) Each(ctx context.Context, fn func(context.Context, *Host) error) error {
	for _, h := range hs {
		if err := ctx.Err(); err != nil {
			return &HostError{Host: h.Name, Err: fmt.Errorf("%w: %w", ErrNotStarted, err)}
		}
		if err := call(ctx, h, fn); err != nil {
			return &HostError{Host: h.Name, Err: err}
		}
	}
	return nil
}

// ParallelEach runs fn on every host, at most limit at a time (no limit when
// limit <= 0). Unlike errgroup it does not stop at the first error: every
// host runs, and the result joins (errors.Join) one *HostError per failed
// host, in host order. Hosts not yet started when ctx ends fail with
// ErrNotStarted. A panic in fn is recovered as an error wrapping ErrPanic.
func (hs Hosts) ParallelEach(ctx context.Context, limit int, fn func(context.Context, *Host) error) error {
	if limit <= 0 || limit > len(hs) {
		limit = len(hs)
	}
	errs := make([]error, len(hs))
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i, h := range hs {
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			if acquired {
				<-sem
			}
			errs[i] = &HostError{Host: h.Name, Err: fmt.Errorf("%w: %w", ErrNotStarted, err)}
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := call(ctx, h, fn); err != nil {
				errs[i] = &HostError{Host: h.Name, Err: err}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// call runs fn, turning a panic into an error.
func call(ctx context.Context, h *Host, fn func(context.Context, *Host) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrPanic, r, debug.Stack())
		}
	}()
	return fn(ctx, h)
}

// Close closes every open connection and forgets it; the error joins the
// failures, one *HostError each.
func (hs Hosts) Close() error {
	var errs []error
	for _, h := range hs {
		if h.Conn == nil {
			continue
		}
		if err := h.Conn.Close(); err != nil {
			errs = append(errs, &HostError{Host: h.Name, Err: fmt.Errorf("close connection: %w", err)})
		}
		h.Conn = nil
	}
	return errors.Join(errs...)
}
