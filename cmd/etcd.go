package cmd

import (
	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/etcdrestore"
)

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

// etcdSession is the prologue of the etcd commands: the session on the
// masters and the -e overrides, checked against every master's variables
// (types, paths) before any connection, and returned converted to their
// types. more names the built-in tasks the command passes -e on to. The
// caller closes the session; on error there is none to close.
func etcdSession(c *cli.Context, more ...string) (*session, map[string]any, error) {
	s, err := newSession(c, "masters")
	if err != nil {
		return nil, nil, err
	}
	extra, err := extraVars(c)
	if err == nil {
		extra, err = etcdrestore.CheckHosts(s.hosts, extra, more...)
		if err != nil {
			err = s.finish(nil, &exitError{code: exitUsage, err: err})
		}
	}
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, extra, nil
}
