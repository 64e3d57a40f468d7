package inventory

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// asciiLetters is the order of alphabetic ranges, as in Ansible.
const asciiLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// nameSpecials are characters that host patterns give a meaning to, and so
// cannot appear in host or group names.
const nameSpecials = ",:[]*?!&~"

// isSpaceOrControl reports characters never allowed in names.
func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// badHostName says why name is not a valid host name, or returns "".
// IPv6 addresses are valid host names despite their colons.
func badHostName(name string) string {
	if isIPv6(name) {
		return ""
	}
	return badName(name)
}

// badGroupName says why name is not a valid group name, or returns "".
func badGroupName(name string) string { return badName(name) }

func badName(name string) string {
	switch {
	case name == "":
		return "empty"
	case strings.ContainsFunc(name, isSpaceOrControl):
		return "contains spaces or control characters"
	case strings.ContainsAny(name, nameSpecials):
		return fmt.Sprintf("contains one of the characters %q, which mean something in host patterns", nameSpecials)
	}
	return ""
}

func isIPv6(s string) bool {
	return strings.Contains(s, ":") && net.ParseIP(s) != nil
}

// expandHostPattern turns an Ansible host entry ("ncn-m00[1:3]",
// "ncn-m001:2222", "[fe80::1]:22") into host names and an optional port.
func expandHostPattern(s string) (names []string, port string, err error) {
	name, port, err := splitHostPort(s)
	if err != nil {
		return nil, "", err
	}
	if isIPv6(name) {
		return []string{name}, port, nil
	}
	names, err = expandRanges(name, false, maxHosts)
	return names, port, err
}

// splitHostPort splits "host:port" (the host may contain ranges, and may be
// an IPv6 address, bracketed when a port follows).
func splitHostPort(s string) (host, port string, err error) {
	if isIPv6(s) {
		return s, "", nil
	}
	if strings.HasPrefix(s, "[") {
		if i := strings.LastIndex(s, "]:"); i > 0 && isIPv6(s[1:i]) {
			return s[1:i], s[i+2:], validPort(s[i+2:])
		}
	}
	i := lastColonOutsideBrackets(s)
	if i < 0 {
		return s, "", nil
	}
	host, port = s[:i], s[i+1:]
	if lastColonOutsideBrackets(host) >= 0 {
		return "", "", errors.New("too many colons (write an IPv6 address with a port as [address]:port)")
	}
	return host, port, validPort(port)
}

// validPort checks that port is a number; its range is checked later with
// the other connection settings.
func validPort(port string) error {
	if _, err := parseDigits(port); err != nil || port == "" {
		return fmt.Errorf("port %q is not a number", port)
	}
	return nil
}

// lastColonOutsideBrackets returns the index of the last ':' not inside
// [...], or -1.
func lastColonOutsideBrackets(s string) int {
	depth, last := 0, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth <= 0 {
				last = i
			}
		}
	}
	return last
}

// expandRanges expands Ansible host ranges: "ncn-m00[1:3]", "ncn-m[001:003]"
// (leading zeros kept), "w[1:10:2]" (stride), "[a:c]" (letters); several
// ranges multiply. With patternMode, brackets without a colon are kept as
// they are (they are glob character classes); otherwise they are an error.
// At most limit names are produced.
func expandRanges(s string, patternMode bool, limit int) ([]string, error) {
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if !patternMode && strings.ContainsRune(s, ']') {
			return nil, errors.New("unmatched ]")
		}
		return []string{s}, nil
	}
	closing := strings.IndexByte(s[open:], ']')
	if closing < 0 {
		return nil, errors.New("unclosed [")
	}
	closing += open
	head, inner, tail := s[:open], s[open+1:closing], s[closing+1:]
	if patternMode && !strings.Contains(inner, ":") {
		rest, err := expandRanges(tail, patternMode, limit)
		if err != nil {
			return nil, err
		}
		for i := range rest {
			rest[i] = s[:closing+1] + rest[i]
		}
		return rest, nil
	}
	seq, err := rangeSeq(inner)
	if err != nil {
		return nil, err
	}
	if len(seq) > limit {
		return nil, fmt.Errorf("ranges expand to more than %d names", limit)
	}
	rest, err := expandRanges(tail, patternMode, limit/len(seq))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(seq)*len(rest))
	for _, v := range seq {
		for _, r := range rest {
			out = append(out, head+v+r)
		}
	}
	return out, nil
}

// errBackwards is the error for a range such as [3:1].
var errBackwards = errors.New("range begins after its end")

// rangeSeq expands the inside of one range: "begin:end" or "begin:end:step".
func rangeSeq(spec string) ([]string, error) {
	bounds := strings.Split(spec, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return nil, errors.New("a range must be [begin:end] or [begin:end:step]")
	}
	beg, end, step := bounds[0], bounds[1], 1
	if beg == "" {
		beg = "0"
	}
	if end == "" {
		return nil, errors.New("range has no end")
	}
	if len(bounds) == 3 {
		var err error
		if step, err = strconv.Atoi(bounds[2]); err != nil || step < 1 {
			return nil, errors.New("range step must be a positive number")
		}
	}

	if ib, ie := letterIndex(beg), letterIndex(end); ib >= 0 && ie >= 0 {
		if ib > ie {
			return nil, errBackwards
		}
		seq := make([]string, 0, (ie-ib)/step+1)
		for i := range (ie-ib)/step + 1 {
			seq = append(seq, asciiLetters[ib+i*step:ib+i*step+1])
		}
		return seq, nil
	}

	ib, err1 := parseDigits(beg)
	ie, err2 := parseDigits(end)
	if err1 != nil || err2 != nil {
		return nil, errors.New("range bounds must be numbers or single letters")
	}
	width := 0
	if len(beg) > 1 && beg[0] == '0' {
		width = len(beg)
		if len(end) != width {
			return nil, errors.New("zero-padded range bounds must have the same number of digits")
		}
	}
	if ib > ie {
		return nil, errBackwards
	}
	if (ie-ib)/step >= maxHosts {
		return nil, fmt.Errorf("range has more than %d values", maxHosts)
	}
	seq := make([]string, 0, (ie-ib)/step+1)
	for i := range (ie-ib)/step + 1 {
		seq = append(seq, fmt.Sprintf("%0*d", width, ib+i*step))
	}
	return seq, nil
}

// letterIndex returns the position of a single ASCII letter in asciiLetters,
// or -1.
func letterIndex(s string) int {
	if len(s) != 1 {
		return -1
	}
	return strings.IndexByte(asciiLetters, s[0])
}

// parseDigits parses a non-negative decimal number of plain digits.
func parseDigits(s string) (int, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	if len(s) > 9 {
		return 0, strconv.ErrRange
	}
	return strconv.Atoi(s)
}
