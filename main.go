// Command ncnpush restores a Kubernetes control plane's bare-metal etcd cluster
// from an S3 snapshot on every master NCN, and runs other NCN tasks as a push
// executor over SSH. See README.md.
package main

import (
	"os"

	"github.com/ncnpush/ncnpush/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args))
}
