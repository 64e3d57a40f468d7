// Package inventory loads the hosts an admin targets and selects among them
// with Ansible host patterns (--limit).
//
// Three file formats are read:
//
//   - native: ncnpush's own strict YAML (top-level vars, defaults, hosts,
//     groups). Unknown keys are errors. If no group "masters" is declared, a
//     group "masters" holds every host. Declared groups must not be empty.
//   - ansible-yaml: an Ansible YAML inventory (all: with hosts, vars and
//     children), including host ranges such as ncn-m00[1:3].
//   - ansible-ini: an Ansible INI inventory ([group], [group:vars],
//     [group:children], key=value host variables, host:port).
//
// Load and Parse detect the format (see ParseFormat). Every parse error is an
// *Error that names the file and line and wraps one of the Err* sentinels.
//
// Variables are flattened to strings: scalars keep their text as written,
// lists and mappings become compact JSON. Jinja templates are not evaluated;
// a templated connection value (ansible_host: "{{ x }}") is an error.
// Host variables are merged the Ansible way: global (all) < parent group <
// child group < host; groups at the same depth are ordered by
// ansible_group_priority, then by name. In Ansible inventories the connection
// variables ansible_host, ansible_user, ansible_port and
// ansible_ssh_private_key_file (and their legacy or alternative names
// ansible_ssh_host, ansible_ssh_user, ansible_ssh_port,
// ansible_private_key_file) fill the Host fields and are removed from Vars.
//
// An Inventory is meant to be read-only once parsed; its methods are safe for
// concurrent use as long as nobody modifies it.
package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Format names, as found in Inventory.Format and accepted by ParseFormat.
const (
	FormatNative      = "native"
	FormatAnsibleYAML = "ansible-yaml"
	FormatAnsibleINI  = "ansible-ini"
)

// maxFileSize bounds what Load reads; real inventories are a few kilobytes.
const maxFileSize = 16 << 20

// Host is one machine of the inventory.
type Host struct {
	Name         string            // inventory name (Ansible inventory_hostname); used in logs and for ~/.ssh/config lookup
	Address      string            // where to connect (native `address`, Ansible `ansible_host`); empty means use Name (ssh_config may map it)
	User         string            // native `user`, Ansible `ansible_user`; empty = let ssh_config/default decide
	Port         int               // native `port`, Ansible `ansible_port`; 0 = let ssh_config/default decide
	IdentityFile string            // native `identity_file`, Ansible `ansible_ssh_private_key_file`
	Groups       []string          // groups the host belongs to (sorted, includes "all")
	Vars         map[string]string // merged variables: global < parent group < child group < host (Ansible precedence)
}

// Inventory is a parsed inventory file.
type Inventory struct {
	Path   string              // the path given to Load, or the name given to Parse
	Format string              // "native", "ansible-yaml", "ansible-ini"
	Hosts  []*Host             // in file order, no duplicates
	Groups map[string][]string // group name -> host names in inventory order (transitively including children); always has "all"
	Vars   map[string]string   // global vars

	byName map[string]*Host // index for Host, built by the parser
}

// Load reads the inventory file at path and parses it with Parse, detecting
// the format. A missing or unreadable file gives ErrUnreadable.
func Load(path string) (*Inventory, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses an inventory from data, detecting its format (see
// ParseFormat). name is used for Inventory.Path, for detection by extension
// and in error messages.
func Parse(name string, data []byte) (*Inventory, error) {
	return ParseFormat(name, data, "")
}

// ParseFormat parses an inventory in the given format: FormatNative,
// FormatAnsibleYAML, FormatAnsibleINI, or "" to detect it.
//
// Detection: a name ending in .ini, .cfg or .conf is INI; .yaml, .yml or
// .json is YAML; otherwise the content decides (a YAML mapping is YAML,
// "[group]" or "host key=value" lines are INI). A YAML file with a top-level
// "all" key, or whose top-level values are groups (mappings with hosts, vars
// or children), is Ansible YAML; one with top-level "hosts", "groups",
// "defaults" or "vars" is native. When it cannot tell, the error
// (ErrUnknownFormat) says why.
func ParseFormat(name string, data []byte, format string) (*Inventory, error) {
	src := source{file: name}
	var (
		doc *yamlDoc // the decoded YAML, for the YAML formats
		err error
	)
	switch format {
	case FormatAnsibleINI:
	case FormatNative, FormatAnsibleYAML:
		if doc, err = parseYAML(src, data); err != nil {
			return nil, err
		}
	case "":
		if format, doc, err = detect(src, data); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w %q (want %s, %s or %s)", ErrUnknownFormat, format,
			FormatNative, FormatAnsibleYAML, FormatAnsibleINI)
	}

	b := newBuilder(src, format)
	switch format {
	case FormatNative:
		err = parseNative(b, doc)
	case FormatAnsibleYAML:
		err = parseAnsibleYAML(b, doc)
	case FormatAnsibleINI:
		err = parseINI(b, data)
	}
	if err != nil {
		return nil, err
	}
	return b.finish()
}

// Host returns the host with the given inventory name.
func (inv *Inventory) Host(name string) (*Host, bool) {
	if h, ok := inv.byName[name]; ok && h.Name == name {
		return h, true
	}
	for _, h := range inv.Hosts { // built by hand, or changed after parsing
		if h.Name == name {
			return h, true
		}
	}
	return nil, false
}

// readFile reads at most maxFileSize bytes of path.
func readFile(path string) ([]byte, error) {
	unreadable := func(err error) error {
		msg := err.Error()
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			msg = pe.Err.Error() // the path is already in front of the message
		}
		return &Error{File: path, Msg: "cannot read inventory: " + msg, Kind: ErrUnreadable, Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, unreadable(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, unreadable(err)
	}
	if n > maxFileSize {
		return nil, unreadable(fmt.Errorf("file is larger than %d MiB", maxFileSize>>20))
	}
	return buf.Bytes(), nil
}
