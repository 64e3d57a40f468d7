package cmd

import (
	"context"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/ncnpush/ncnpush/backups"
)

// newBackupsClient builds the S3 catalogue client from the s3 flags.
func newBackupsClient(ctx context.Context, c *cli.Context, log *slog.Logger) (*backups.Client, error) {
	if c.String(flagS3FromSecret) != "" {
		return nil, usageErrorf("--%s is not available yet: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", flagS3FromSecret)
	}
	retries := c.Int(flagS3MaxAttempts) - 1
	if retries <= 0 {
		retries = -1 // one attempt: no retry (0 would mean the default)
	}
	return backups.NewClient(ctx, backups.ClientOptions{
		Endpoint:   c.String(flagS3Endpoint),
		Bucket:     c.String(flagBucket),
		Prefix:     c.String(flagPrefix),
		Region:     c.String(flagRegion),
		CABundle:   c.String(flagS3CABundle),
		Insecure:   c.Bool(flagS3Insecure),
		Profile:    c.String(flagS3Profile),
		Timeout:    c.Duration(flagS3Timeout),
		MaxRetries: retries,
		Logger:     log,
	})
}

// selectBackup lists the bucket and picks the backup --backup/--before name.
func selectBackup(ctx context.Context, cl *backups.Client, name, before string) (backups.Backup, error) {
	sel := backups.Selector{Name: name}
	if before != "" {
		t, err := backups.ParseTime(before)
		if err != nil {
			return backups.Backup{}, usageErrorf("--%s: %v", flagBefore, err)
		}
		sel.Before = t
	}
	all, err := cl.List(ctx)
	if err != nil {
		return backups.Backup{}, err
	}
	return backups.Select(all, sel)
}
