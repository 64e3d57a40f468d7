package cmd

import (
	"time"

	"github.com/urfave/cli/v2"
)

// Flag names. Every command refers to flags by these constants.
const (
	flagInventory          = "inventory"
	flagLimit              = "limit"
	flagForks              = "forks"
	flagOutput             = "output"
	flagYes                = "yes"
	flagDryRun             = "dry-run"
	flagExtraVars          = "extra-vars"
	flagTemplates          = "templates"
	flagKnownHosts         = "known-hosts"
	flagAcceptNewHostKeys  = "accept-new-host-keys"
	flagInsecureIgnoreHost = "insecure-ignore-host-key"
	flagJump               = "jump"
	flagSSHConfig          = "ssh-config"
	flagConnectTimeout     = "connect-timeout"
	flagLogLevel           = "log-level"
	flagNoColor            = "no-color"

	flagS3Endpoint    = "s3-endpoint"
	flagBucket        = "bucket"
	flagPrefix        = "prefix"
	flagRegion        = "region"
	flagS3CABundle    = "s3-ca-bundle"
	flagS3Insecure    = "s3-insecure"
	flagS3Profile     = "profile"
	flagS3FromSecret  = "s3-credentials-from-secret"
	flagBackup        = "backup"
	flagBefore        = "before"
	flagKeepLast      = "keep-last"
	flagKeepHourly    = "keep-hourly"
	flagKeepDaily     = "keep-daily"
	flagBumpRevision  = "bump-revision"
	flagStagingDir    = "staging-dir"
	flagStartTimeout  = "start-timeout"
	flagSkipK8sHeal   = "skip-k8s-heal"
	flagStaleFactor   = "stale-factor"
	flagMaxDumpSize   = "max-dump-size"
	flagS3Timeout     = "s3-timeout"
	flagS3MaxAttempts = "s3-max-attempts"
	flagDest          = "dest"
	flagVerify        = "verify"
	flagLogDir        = "log-dir"
	flagRun           = "run"
	flagOlderThan     = "older-than"
	flagComplete      = "complete"
)

// Environment variable names that flags read.
const (
	envInventory  = "NCNPUSH_INVENTORY"
	envLimit      = "NCNPUSH_LIMIT"
	envForks      = "NCNPUSH_FORKS"
	envOutput     = "NCNPUSH_OUTPUT"
	envTemplates  = "NCNPUSH_TEMPLATES"
	envKnownHosts = "NCNPUSH_KNOWN_HOSTS"
	envSSHConfig  = "NCNPUSH_SSH_CONFIG"
	envJump       = "NCNPUSH_JUMP"
	envLogLevel   = "NCNPUSH_LOG_LEVEL"
	envNoColor    = "NO_COLOR"
	envS3Endpoint = "AWS_ENDPOINT_URL"
	envBucket     = "NCNPUSH_BUCKET"
	envPrefix     = "NCNPUSH_PREFIX"
	envRegion     = "AWS_REGION"
	envS3CABundle = "AWS_CA_BUNDLE"
	envS3Profile  = "AWS_PROFILE"
	envLogDir     = "NCNPUSH_LOG_DIR"
	// envXDGStateHome is the XDG base directory of state: run logs go
	// under it.
	envXDGStateHome = "XDG_STATE_HOME"
)

// Output formats for --output.
const (
	outputText = "text"
	outputJSON = "json"
)

// Flag groups, shared by the commands that need them.

func inventoryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagInventory, Aliases: []string{"i"}, EnvVars: []string{envInventory},
			Usage: "inventory `FILE`: ncnpush's own YAML, or an Ansible inventory (YAML or INI)"},
		&cli.StringFlag{Name: flagLimit, Aliases: []string{"l"}, EnvVars: []string{envLimit},
			Usage: "select hosts with an Ansible-style `PATTERN` (group, host, glob, ~regex, a:b, a:&b, a:!b)"},
	}
}

func sshFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: flagKnownHosts, EnvVars: []string{envKnownHosts},
			Usage: "known_hosts `FILE` to check host keys against (default ~/.ssh/known_hosts)"},
		&cli.BoolFlag{Name: flagAcceptNewHostKeys,
			Usage: "trust a host's key on first use and record it; a changed key is still refused"},
		&cli.BoolFlag{Name: flagInsecureIgnoreHost,
			Usage: "do not check host keys at all (unsafe: only for throw-away test hosts)"},
		&cli.StringFlag{Name: flagJump, Aliases: []string{"J"}, EnvVars: []string{envJump},
			Usage: "connect through jump host(s) `[user@]host[:port][,...]`, like ssh -J"},
		&cli.StringFlag{Name: flagSSHConfig, EnvVars: []string{envSSHConfig},
			Usage: "ssh client config `FILE` (default ~/.ssh/config)"},
		&cli.DurationFlag{Name: flagConnectTimeout, Value: 10 * time.Second,
			Usage: "SSH connect timeout"},
	}
}

func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: flagForks, Aliases: []string{"f"}, EnvVars: []string{envForks}, Value: 50,
			Usage: "how many hosts a parallel phase runs on at once"},
		&cli.StringFlag{Name: flagOutput, Aliases: []string{"o"}, EnvVars: []string{envOutput}, Value: outputText,
			Usage: "report format: text, or json (one JSON document on stdout)"},
		&cli.StringFlag{Name: flagTemplates, EnvVars: []string{envTemplates},
			Usage: "`DIR` of *.sh.tmpl that override or add to the built-in templates by file name"},
		&cli.BoolFlag{Name: flagNoColor, EnvVars: []string{envNoColor}, Usage: "no colour in the output"},
	}
}

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagLogLevel, EnvVars: []string{envLogLevel}, Value: "warn",
			Usage: "log level: debug, info, warn, error (logs go to stderr)"},
	}
}

func s3Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagS3Endpoint, EnvVars: []string{envS3Endpoint},
			Usage: "S3 endpoint `URL` (Ceph RGW, e.g. http://rgw-vip)"},
		&cli.StringFlag{Name: flagBucket, EnvVars: []string{envBucket}, Value: "etcd-backup", Usage: "S3 bucket"},
		&cli.StringFlag{Name: flagPrefix, EnvVars: []string{envPrefix}, Value: "bare-metal/", Usage: "key prefix of the backups"},
		&cli.StringFlag{Name: flagRegion, EnvVars: []string{envRegion}, Value: "us-east-1",
			Usage: "S3 region (any value works for Ceph RGW)"},
		&cli.StringFlag{Name: flagS3CABundle, EnvVars: []string{envS3CABundle}, Usage: "PEM `FILE` of CAs for an HTTPS endpoint"},
		&cli.BoolFlag{Name: flagS3Insecure, Usage: "do not verify the endpoint's TLS certificate (unsafe)"},
		&cli.StringFlag{Name: flagS3Profile, EnvVars: []string{envS3Profile}, Usage: "shared config profile"},
		&cli.StringFlag{Name: flagS3FromSecret,
			Usage: "read S3 credentials from Kubernetes secret `NS/NAME` with kubectl on the first master (needs -i)"},
		&cli.DurationFlag{Name: flagS3Timeout, Value: 30 * time.Second,
			Usage: "S3 connect/response timeout, and how long a download may stall"},
		&cli.IntFlag{Name: flagS3MaxAttempts, Value: 4, Usage: "S3 attempts per request, retries included"},
	}
}

func concat(groups ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
