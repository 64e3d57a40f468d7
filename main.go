// Command ncnpush restores a Kubernetes control plane's bare-metal etcd cluster
// from an S3 snapshot on every master NCN, and runs other NCN tasks as a push
// executor over SSH. See README.md.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/ncnpush/ncnpush/cmd"
)

// envCPUProfile names a file to write a CPU profile of the whole run to (for
// `go tool pprof`; used by the benchmarks, not documented in --help).
const envCPUProfile = "NCNPUSH_CPUPROFILE"

func main() {
	os.Exit(run())
}

func run() int {
	if p := os.Getenv(envCPUProfile); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ncnpush: %s: %v\n", envCPUProfile, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "ncnpush: %s: %v\n", envCPUProfile, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	return cmd.Main(os.Args)
}
