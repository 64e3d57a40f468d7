package cmd

import "github.com/urfave/cli/v2"

// etcdCommand groups the bare-metal etcd commands.
func etcdCommand() *cli.Command {
	return &cli.Command{
		Name:  "etcd",
		Usage: "restore and inspect the masters' bare-metal etcd cluster",
		Subcommands: []*cli.Command{
			etcdRestoreCommand(),
			etcdStatusCommand(),
			etcdCleanupCommand(),
			etcdRecoverCommand(),
		},
	}
}
