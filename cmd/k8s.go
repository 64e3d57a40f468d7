package cmd

import "github.com/urfave/cli/v2"

// k8sCommand groups the Kubernetes commands.
func k8sCommand() *cli.Command {
	return &cli.Command{
		Name:  "k8s",
		Usage: "repair Kubernetes objects with kubectl on a master (after an etcd restore)",
		Subcommands: []*cli.Command{
			k8sHealCommand(),
		},
	}
}
