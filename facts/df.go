package facts

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// DFRow is one line of `df -P -B1` output.
type DFRow struct {
	// Filesystem is the first column: the device or filesystem name.
	Filesystem string
	// Size is the filesystem size in bytes.
	Size uint64
	// Used is the space in use, in bytes.
	Used uint64
	// Available is the space available to unprivileged users, in bytes.
	Available uint64
	// MountedOn is the mount point holding the path given to df.
	MountedOn string
}

// dfRow matches a data line of `df -P`: filesystem, size, used, available,
// capacity, mount point. The mount point is everything after the capacity
// column, spaces included; it starts with "/".
var dfRow = regexp.MustCompile(`^(\S.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(/.*)$`)

// dfHeader matches the header line; the block size must be 1 byte.
var dfHeader = regexp.MustCompile(`^Filesystem\s+(\d+)B?-blocks\s+Used\s+Available\s+Capacity\s+Mounted on\s*$`)

// ParseDFRows parses the output of `LC_ALL=C df -P -B1 PATH...`: an optional
// header line, then one line per PATH argument, in argument order. A header
// with a block size other than 1 is an error (the numbers would not be
// bytes). With -P a long device name is not wrapped onto its own line, but a
// wrapped line is joined with the next one anyway. Blank lines are skipped;
// any other line that is not a data line is an error (ErrBadDF).
func ParseDFRows(out string) ([]DFRow, error) {
	var rows []DFRow
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "Filesystem ") && len(rows) == 0 {
			h := dfHeader.FindStringSubmatch(line)
			if h == nil {
				return nil, fmt.Errorf("%w: unexpected header %q (want LC_ALL=C df -P -B1)", ErrBadDF, clip(line))
			}
			if h[1] != "1" {
				return nil, fmt.Errorf("%w: block size is %s bytes, not 1 (want df -P -B1)", ErrBadDF, h[1])
			}
			continue
		}
		m := dfRow.FindStringSubmatch(line)
		if m == nil && i+1 < len(lines) && !strings.ContainsAny(strings.TrimSpace(line), " \t") {
			// A device name alone on its line, its numbers on the next.
			if m = dfRow.FindStringSubmatch(line + " " + strings.TrimSpace(lines[i+1])); m != nil {
				i++
			}
		}
		if m == nil {
			return nil, fmt.Errorf("%w: line %q is not a df -P data line", ErrBadDF, clip(line))
		}
		r := DFRow{Filesystem: m[1], MountedOn: m[6]}
		for j, p := range []*uint64{&r.Size, &r.Used, &r.Available} {
			v, err := strconv.ParseUint(m[j+2], 10, 64)
			if err != nil {
				var ne *strconv.NumError
				if errors.As(err, &ne) {
					err = ne.Err // without the number, already in the line
				}
				return nil, fmt.Errorf("%w: line %q: %w", ErrBadDF, clip(line), err)
			}
			*p = v
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no data line", ErrBadDF)
	}
	return rows, nil
}

// ParseDF parses the output of `LC_ALL=C df -P -B1 PATH...` (see ParseDFRows)
// into the available bytes per mount point. Two paths on one filesystem
// give one entry.
func ParseDF(out string) (map[string]uint64, error) {
	rows, err := ParseDFRows(out)
	if err != nil {
		return nil, err
	}
	avail := make(map[string]uint64, len(rows))
	for _, r := range rows {
		avail[r.MountedOn] = r.Available
	}
	return avail, nil
}
