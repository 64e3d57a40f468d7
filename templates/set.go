package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

// Ext is the file name suffix of a template.
const Ext = ".sh.tmpl"

// Builtin is the Origin of a template embedded in the binary.
const Builtin = "builtin"

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound: no template has that name.
	ErrNotFound = errors.New("template not found")
	// ErrRender: executing a template failed (a missing key, a value q
	// cannot quote, a failing function).
	ErrRender = errors.New("render failed")
)

// Source is one template's text and where it came from.
type Source struct {
	// Name is the file name, e.g. "exec.sh.tmpl".
	Name string
	// Origin is Builtin or the path of the override file.
	Origin string
	// Text is the template text.
	Text string
}

// Set is the templates of a run: the built-in ones, overridden and extended
// by the files of an optional directory. Every template of a Set has passed
// [Check]. A Set is safe for concurrent use.
type Set struct {
	root    *template.Template
	sources map[string]Source
}

// New returns the built-in templates, overridden and extended by the
// *.sh.tmpl files of dir (none when dir is ""). Every template is parsed
// and checked; the error joins every problem found.
func New(dir string) (*Set, error) {
	srcs, err := readFS(builtinFS, func(string) string { return Builtin })
	if err != nil {
		return nil, fmt.Errorf("load built-in templates: %w", err)
	}
	if dir != "" {
		over, err := readFS(os.DirFS(dir), func(name string) string { return filepath.Join(dir, name) })
		if err != nil {
			return nil, fmt.Errorf("load templates from %s: %w", dir, err)
		}
		for n, s := range over {
			srcs[n] = s
		}
	}
	return build(srcs)
}

// NewFromSources builds a Set from explicit sources only (no built-in
// templates): for tests and tools.
func NewFromSources(srcs ...Source) (*Set, error) {
	m := make(map[string]Source, len(srcs))
	for _, s := range srcs {
		if !strings.HasSuffix(s.Name, Ext) {
			return nil, fmt.Errorf("template %q: name must end in %s", s.Name, Ext)
		}
		m[s.Name] = s
	}
	return build(m)
}

// readFS reads the *.sh.tmpl files at the top of fsys.
func readFS(fsys fs.FS, origin func(string) string) (map[string]Source, error) {
	names, err := fs.Glob(fsys, "*"+Ext)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Source, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out[n] = Source{Name: n, Origin: origin(n), Text: string(b)}
	}
	return out, nil
}

// build parses and checks every source into one template namespace, so that
// a template may {{template "other.sh.tmpl" .}} another.
func build(srcs map[string]Source) (*Set, error) {
	root := template.New("").Funcs(Funcs()).Option("missingkey=error")
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	slices.Sort(names)
	var errs []error
	for _, n := range names {
		s := srcs[n]
		where := n
		if s.Origin != Builtin {
			where = s.Origin
		}
		if err := Check(n, s.Text); err != nil {
			errs = append(errs, fmt.Errorf("template %s: %w", where, err))
			continue
		}
		if _, err := root.New(n).Parse(s.Text); err != nil {
			errs = append(errs, fmt.Errorf("template %s: %w", where, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Set{root: root, sources: srcs}, nil
}

// List returns the names of the templates, sorted.
func (s *Set) List() []string {
	names := make([]string, 0, len(s.sources))
	for n := range s.sources {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Has reports whether the Set holds a template called name.
func (s *Set) Has(name string) bool {
	_, ok := s.sources[name]
	return ok
}

// Source returns the text of template name and where it came from.
func (s *Set) Source(name string) (Source, error) {
	src, ok := s.sources[name]
	if !ok {
		return Source{}, fmt.Errorf("template %q: %w (have: %s)", name, ErrNotFound, strings.Join(s.List(), ", "))
	}
	return src, nil
}

// Render executes template name with data. Errors wrap ErrRender and name the
// template, the position and (for a missing key) the key.
func (s *Set) Render(name string, data any) (string, error) {
	if !s.Has(name) {
		_, err := s.Source(name)
		return "", err
	}
	var b strings.Builder
	if err := s.root.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w: %w", name, ErrRender, err)
	}
	return b.String(), nil
}
