package hosts_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncnpush/ncnpush/hosts"
	"github.com/ncnpush/ncnpush/hosts/hoststest"
	"github.com/ncnpush/ncnpush/inventory"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("h%d", i+1)
	}
	return out
}

func TestParallelEachRunsEveryHostAndJoinsErrors(t *testing.T) {
	hs := hoststest.Hosts(names(5))
	var ran atomic.Int32
	err := hs.ParallelEach(context.Background(), 2, func(_ context.Context, h *hosts.Host) error {
		ran.Add(1)
		if h.Name == "h2" || h.Name == "h4" {
			return errors.New("boom")
		}
		return nil
	})
	if ran.Load() != 5 {
		t.Fatalf("ran %d hosts, want all 5", ran.Load())
	}
	if err == nil {
		t.Fatal("no error")
	}
	var he *hosts.HostError
	if !errors.As(err, &he) {
		t.Fatalf("%v is not a HostError", err)
	}
	if got := err.Error(); got != "host h2: boom\nhost h4: boom" {
		t.Fatalf("error = %q", got)
	}
}

func TestParallelEachLimit(t *testing.T) {
	hs := hoststest.Hosts(names(8))
	var cur, peak atomic.Int32
	err := hs.ParallelEach(context.Background(), 3, func(context.Context, *hosts.Host) error {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d, want 3", p)
	}
}

func TestParallelEachPanicAndCancel(t *testing.T) {
	hs := hoststest.Hosts(names(3))
	err := hs.ParallelEach(context.Background(), 0, func(_ context.Context, h *hosts.Host) error {
		if h.Name == "h1" {
			panic("oops")
		}
		return nil
	})
	if !errors.Is(err, hosts.ErrPanic) || !strings.Contains(err.Error(), "host h1: panic: oops") {
		t.Fatalf("err = %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	err = hs.ParallelEach(ctx, 1, func(context.Context, *hosts.Host) error {
		ran.Add(1)
		cancel()
		return nil
	})
	if ran.Load() != 1 || !errors.Is(err, hosts.ErrNotStarted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("ran %d, err %v", ran.Load(), err)
	}
	if !strings.Contains(err.Error(), "host h2:") || !strings.Contains(err.Error(), "host h3:") {
		t.Fatalf("not-started hosts not named: %v", err)
	}
}

func TestEachIsSerialAndStops(t *testing.T) {
	hs := hoststest.Hosts(names(4))
	var mu sync.Mutex
	var order []string
	var active atomic.Int32
	err := hs.Each(context.Background(), func(_ context.Context, h *hosts.Host) error {
		if active.Add(1) != 1 {
			t.Error("two hosts at once")
		}
		defer active.Add(-1)
		mu.Lock()
		order = append(order, h.Name)
		mu.Unlock()
		if h.Name == "h3" {
			return errors.New("stop")
		}
		return nil
	})
	if strings.Join(order, ",") != "h1,h2,h3" {
		t.Fatalf("order %v", order)
	}
	var he *hosts.HostError
	if !errors.As(err, &he) || he.Host != "h3" {
		t.Fatalf("err %v", err)
	}
}

func TestFilterFirstBatchesSelect(t *testing.T) {
	hs := hoststest.Hosts(names(5), []string{"masters"}, []string{"masters"}, nil, []string{"masters"})
	masters := hs.Filter(func(h *hosts.Host) bool { return strings.Contains(strings.Join(h.Groups, ","), "masters") })
	if got := strings.Join(masters.Names(), ","); got != "h1,h2,h4" {
		t.Fatalf("Filter = %s", got)
	}
	if hs.First().Name != "h1" || hosts.Hosts(nil).First() != nil {
		t.Fatal("First")
	}
	var bs []string
	for _, b := range hs.Batches(2) {
		bs = append(bs, strings.Join(b.Names(), "+"))
	}
	if got := strings.Join(bs, " "); got != "h1+h2 h3+h4 h5" {
		t.Fatalf("Batches(2) = %s", got)
	}
	if len(hs.Batches(0)) != 1 || hs.Batches(3)[1].Names()[1] != "h5" {
		t.Fatal("Batches(0/3)")
	}
	sel, err := hs[1:].Select(hoststest.Selector{Hosts: hs}, "masters")
	if err != nil || strings.Join(sel.Names(), ",") != "h2,h4" {
		t.Fatalf("Select within a subset = %v, %v", sel.Names(), err)
	}
	if _, err := hs.Select(nil, "masters"); !errors.Is(err, hosts.ErrSelect) {
		t.Fatalf("Select(nil selector) = %v", err)
	}
	if all, err := hs.Select(nil, "all"); err != nil || len(all) != 5 {
		t.Fatalf("Select(nil, all) = %v, %v", all, err)
	}
}

func TestFacts(t *testing.T) {
	h := hosts.New(&inventory.Host{Name: "h"})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); h.SetFact(fmt.Sprint("k", i), i); _ = h.FactsCopy() }()
	}
	wg.Wait()
	if v, ok := h.Fact("k3"); !ok || v != 3 {
		t.Fatalf("Fact(k3) = %v, %v", v, ok)
	}
}

func TestConnectReportsEveryFailureAndClosesTheRest(t *testing.T) {
	hs := hosts.FromInventory([]*inventory.Host{{Name: "ok1"}, {Name: "bad1"}, {Name: "ok2"}, {Name: "bad2"}})
	var opened []*hoststest.Conn
	var mu sync.Mutex
	err := hosts.Connect(context.Background(), hs, hosts.ConnectOptions{
		Dial: func(_ context.Context, h *hosts.Host) (hosts.Conn, error) {
			if strings.HasPrefix(h.Name, "bad") {
				return nil, errors.New("connection refused")
			}
			c := &hoststest.Conn{Host: h.Name}
			mu.Lock()
			opened = append(opened, c)
			mu.Unlock()
			return c, nil
		},
	})
	if !errors.Is(err, hosts.ErrConnect) {
		t.Fatalf("err = %v, want ErrConnect", err)
	}
	for _, want := range []string{"2 of 4 hosts", "host bad1: connect: connection refused", "host bad2: connect: connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	for _, c := range opened {
		if !c.Closed() {
			t.Errorf("%s left open", c.Host)
		}
	}
	for _, h := range hs {
		if h.Conn != nil {
			t.Errorf("%s still has a Conn", h.Name)
		}
	}

	if err := hosts.Connect(context.Background(), hs, hosts.ConnectOptions{Dial: hoststest.Dial("")}); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Conn == nil {
			t.Errorf("%s not connected", h.Name)
		}
	}
	if err := hs.Close(); err != nil || hs[0].Conn != nil {
		t.Fatalf("Close = %v", err)
	}
}

func TestTransportConfig(t *testing.T) {
	h := hosts.New(&inventory.Host{Name: "ncn-m001", Address: "10.252.1.10", User: "root", Port: 2222, IdentityFile: "/k/m001"})
	cfg := hosts.ConnectOptions{IdentityFiles: []string{"/k/all"}, KnownHostsFiles: []string{"/kh"}, Jump: "bastion", ConnectTimeout: time.Second}.TransportConfig(h)
	if cfg.Host != "ncn-m001" || cfg.Address != "10.252.1.10" || cfg.User != "root" || cfg.Port != 2222 ||
		strings.Join(cfg.IdentityFiles, ",") != "/k/m001,/k/all" || cfg.KnownHostsFiles[0] != "/kh" || cfg.Jump != "bastion" || cfg.ConnectTimeout != time.Second {
		t.Fatalf("config %+v", cfg)
	}
}
