package backups

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// List returns every backup under the client's prefix, newest first. It
// pages through ListObjectsV2 over `<prefix>etcd-backup-`, so other
// clusters' prefixes are never read; keys that are not exactly
// `<prefix><name>.tar.gz` with a valid name are skipped (and logged at
// debug level).
func (c *Client) List(ctx context.Context) ([]Backup, error) {
	listPrefix := c.opts.Prefix + NamePrefix
	p := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{
		Bucket: aws.String(c.opts.Bucket),
		Prefix: aws.String(listPrefix),
	})
	var out []Backup
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.wrap("list backups", listPrefix, err)
		}
		pages++
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			b, ok := c.backupFor(key)
			if !ok {
				continue
			}
			b.Size = aws.ToInt64(obj.Size)
			b.LastModified = aws.ToTime(obj.LastModified)
			b.ETag = aws.ToString(obj.ETag)
			out = append(out, b)
		}
	}
	SortNewestFirst(out)
	c.log.Debug("listed backups", "prefix", listPrefix, "backups", len(out), "pages", pages)
	return out, nil
}

// backupFor parses an object key of this client's prefix.
func (c *Client) backupFor(key string) (Backup, bool) {
	rest, ok := strings.CutPrefix(key, c.opts.Prefix)
	if !ok || strings.Contains(rest, "/") || !strings.HasSuffix(rest, ObjectSuffix) {
		c.log.Debug("skipping object: not <prefix>etcd-backup-<ts>.tar.gz", "key", key)
		return Backup{}, false
	}
	name, t, err := ParseName(rest)
	if err != nil {
		c.log.Debug("skipping object: bad backup name", "key", key, "err", err)
		return Backup{}, false
	}
	return Backup{Key: key, Name: name, Time: t}, true
}
