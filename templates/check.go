package templates

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
)

// ErrUnsafe is matched (errors.Is) by every error of [Check]: a template that
// could let a value reach the shell unquoted.
var ErrUnsafe = errors.New("unsafe template")

// CheckError is one violation found by [Check].
type CheckError struct {
	Template string // the template (file) name
	Location string // "name:line:col"
	Action   string // the offending action or text, e.g. "{{.X}}"
	Reason   string // what is wrong and how to fix it
}

// Error formats e as "location: action: reason".
func (e *CheckError) Error() string {
	if e.Action == "" {
		return fmt.Sprintf("%s: %s", e.Location, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", e.Location, e.Action, e.Reason)
}

// Is makes errors.Is(e, ErrUnsafe) true.
func (e *CheckError) Is(target error) bool { return target == ErrUnsafe }

// Check parses text as the template name and reports every place where a
// value could reach the shell unquoted (see the package documentation for
// the rules). The error joins one [*CheckError] per violation; nil means the
// template is safe. Parse errors are returned as they are.
func Check(name, text string) error {
	trees, err := parseTrees(name, text)
	if err != nil {
		return err
	}
	return checkTrees(trees)
}

// parseTrees parses text into its trees (the file and its {{define}}s)
// without checking that functions exist.
func parseTrees(name, text string) (map[string]*parse.Tree, error) {
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := t.Parse(text, "", "", trees, Funcs()); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	return trees, nil
}

// checkTrees checks every tree, in name order for stable errors.
func checkTrees(trees map[string]*parse.Tree) error {
	names := make([]string, 0, len(trees))
	for n := range trees {
		names = append(names, n)
	}
	slices.Sort(names)
	var errs []error
	for _, n := range names {
		tr := trees[n]
		if tr.Root == nil {
			continue
		}
		c := &checker{tree: tr}
		st := newShellState()
		st.ar = newTracker(c)
		end := c.list(tr.Root, st)
		if msg := end.unterminated(); msg != "" {
			c.fail(nil, "", "template ends "+msg+": every template (and {{define}}) must end in plain shell code")
		} else {
			end.ar.finish()
		}
		errs = append(errs, c.errs...)
	}
	return errors.Join(errs...)
}

// checker walks one parse tree, following the shell's quoting state through
// its text.
type checker struct {
	tree *parse.Tree
	errs []error
	seen map[string]bool // reported errors, to report each once
}

// report adds e unless the same error was reported already.
func (c *checker) report(e *CheckError) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if c.seen[e.Error()] {
		return
	}
	c.seen[e.Error()] = true
	c.errs = append(c.errs, e)
}

func (c *checker) fail(n parse.Node, action, reason string) {
	loc := c.tree.ParseName
	if n != nil {
		loc, _ = c.tree.ErrorContext(n)
	}
	c.report(&CheckError{Template: c.tree.ParseName, Location: loc, Action: action, Reason: reason})
}

// list scans the nodes of l from state st and returns the state after them.
func (c *checker) list(l *parse.ListNode, st shellState) shellState {
	if l == nil {
		return st
	}
	for _, n := range l.Nodes {
		st = c.node(n, st)
	}
	return st
}

func (c *checker) node(n parse.Node, st shellState) shellState {
	switch n := n.(type) {
	case *parse.TextNode:
		st = st.clone()
		if st.ar != nil {
			loc, _ := c.tree.ErrorContext(n)
			st.ar.line = lineOf(loc)
		}
		st.scan(string(n.Text))
		return st
	case *parse.ActionNode:
		st = st.clone()
		c.action(n, st)
		return st.afterWord()
	case *parse.IfNode:
		return c.branches(n, &n.BranchNode, st, "if")
	case *parse.WithNode:
		return c.branches(n, &n.BranchNode, st, "with")
	case *parse.RangeNode:
		body := c.list(n.List, st)
		if !body.equal(st) {
			c.fail(n, "{{range}}", "the loop body changes the shell quoting state ("+st.describe()+" before, "+body.describe()+" after)")
		}
		out := st.clone()
		out.ar = mergeTrackers(st.ar, body.ar) // the body runs zero or more times
		if n.ElseList != nil {
			e := c.list(n.ElseList, st)
			if !e.equal(st) {
				c.fail(n, "{{range}}", "the {{else}} branch changes the shell quoting state ("+st.describe()+" before, "+e.describe()+" after)")
			}
			out.ar = mergeTrackers(out.ar, e.ar)
		}
		return out
	case *parse.TemplateNode:
		st = st.clone()
		if reason := st.wordHere(); reason != "" {
			c.fail(n, n.String(), "template call "+reason)
		} else {
			c.value(n, n.String(), st)
		}
		return st.afterWord()
	default: // comments, break, continue
		return st
	}
}

// branches checks that every branch of an if/with ends in the same state.
func (c *checker) branches(n parse.Node, b *parse.BranchNode, st shellState, kw string) shellState {
	then := c.list(b.List, st)
	els := st
	if b.ElseList != nil {
		els = c.list(b.ElseList, st)
	}
	if !then.equal(els) {
		c.fail(n, "{{"+kw+"}}", "its branches leave the shell in different quoting states ("+then.describe()+" vs "+els.describe()+")")
	}
	then = then.clone()
	then.ar = mergeTrackers(then.ar, els.ar)
	return then
}

// action checks one output action.
func (c *checker) action(n *parse.ActionNode, st shellState) {
	if len(n.Pipe.Decl) > 0 {
		return // {{ $x := ... }} and {{ $x = ... }} print nothing
	}
	text := n.String()
	last := n.Pipe.Cmds[len(n.Pipe.Cmds)-1]
	fn := ""
	if id, ok := last.Args[0].(*parse.IdentifierNode); ok {
		fn = id.Ident
	}
	switch fn {
	case FuncQ, FuncQJoin:
		if reason := st.wordHere(); reason != "" {
			c.fail(n, text, "quoted value "+reason)
		} else {
			c.value(n, text, st)
		}
	case FuncRaw:
		if len(last.Args) < 2 {
			c.fail(n, text, `raw needs a justification: {{ raw "why this is safe" VALUE }}`)
			return
		}
		s, ok := last.Args[1].(*parse.StringNode)
		if !ok || strings.TrimSpace(s.Text) == "" {
			c.fail(n, text, `raw's first argument must be a non-empty string literal saying why the value is safe unquoted`)
		}
	default:
		c.fail(n, text, "value not quoted: end the pipeline with q (or qjoin for a list), e.g. {{ "+strings.TrimSuffix(strings.TrimPrefix(text, "{{"), "}}")+" | q }}")
	}
}

// value follows a template value printed in state st (a quoted value or a
// template call's output): refused inside arithmetic, tracked elsewhere.
func (c *checker) value(n parse.Node, text string, st shellState) {
	if st.top().kind == fArith {
		c.fail(n, text, "template value inside arithmetic: bash evaluates it as an expression even when quoted, "+
			"so a[$(cmd)] in it would run cmd; assign it to a variable, check that with "+
			"[[ $v =~ ^[0-9]+$ ]] || { echo ... >&2; exit 2; }, and use $v")
		return
	}
	if st.ar != nil {
		st.ar.value(&st)
	}
}

// lineOf returns the line of a "name:line:col" location.
func lineOf(loc string) int {
	parts := strings.Split(loc, ":")
	if len(parts) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(parts[len(parts)-2])
	return n
}

// Shell quoting state.

type frameKind int

const (
	fNormal   frameKind = iota // plain shell code (bottom of the stack)
	fSubst                     // $( ... )
	fBacktick                  // ` ... `
	fParam                     // ${ ... } outside double quotes
	fArith                     // $(( ... )) or (( ... ))
	fSingle                    // ' ... '
	fANSI                      // $' ... '
	fDouble                    // " ... "
	fParamDQ                   // ${ ... } inside double quotes
	fComment                   // # ... to the end of the line
	fHeredoc                   // a here-document body
)

var frameNames = map[frameKind]string{
	fNormal: "plain shell code", fSubst: "$(...)", fBacktick: "`...`", fParam: "${...}",
	fArith: "arithmetic ((...))", fSingle: "a '...' string", fANSI: "a $'...' string",
	fDouble: `a "..." string`, fParamDQ: `a ${...} inside "..."`, fComment: "a # comment",
	fHeredoc: "a here-document body",
}

// frame is one level of nesting.
type frame struct {
	kind  frameKind
	depth int     // unclosed ( inside $( ) or (( )), { inside ${ }
	doc   heredoc // for fHeredoc
}

// heredoc is a here-document announced by <<WORD.
type heredoc struct {
	delim  string // WORD without its quotes
	strip  bool   // <<- : leading tabs are stripped from body lines
	quoted bool   // WORD had quotes: no expansion in the body
}

// delimReader reads the WORD after <<.
type delimReader struct {
	buf     []byte
	dash    bool // <<-
	quoted  bool
	inQuote byte // ' or " while inside quotes in WORD
	escaped bool
}

// shellState is a lexical approximation of where bash is while it reads a
// script: enough to tell whether a single-quoted word placed here is one
// literal word. Where it is unsure it errs towards rejecting a template.
type shellState struct {
	stack     []frame
	escaped   bool // the previous character was an unconsumed backslash
	dollar    bool // the previous character was an unconsumed $
	newSubst  bool // "$(" was just read: a "(" now makes it "$(("
	paren     bool // "(" at a command start was just read: "(" now makes "(("
	lt        int  // how many '<' were just read
	wordStart bool // the next character starts a word (so # starts a comment)
	pending   []heredoc
	line      string // the current line of a here-document body
	delim     *delimReader
	ar        *tracker // the variables holding template values (see arith.go)
}

func newShellState() shellState {
	return shellState{stack: []frame{{kind: fNormal}}, wordStart: true}
}

func (s shellState) clone() shellState {
	s.stack = slices.Clone(s.stack)
	s.pending = slices.Clone(s.pending)
	s.ar = s.ar.clone()
	if s.delim != nil {
		d := *s.delim
		d.buf = slices.Clone(d.buf)
		s.delim = &d
	}
	return s
}

func (s *shellState) top() *frame { return &s.stack[len(s.stack)-1] }

func (s *shellState) push(k frameKind) { s.stack = append(s.stack, frame{kind: k}) }

func (s *shellState) pop() {
	if len(s.stack) > 1 {
		s.stack = s.stack[:len(s.stack)-1]
	}
}

// equal compares the parts of two states that matter for later checks.
func (s shellState) equal(o shellState) bool {
	return slices.Equal(s.stack, o.stack) && slices.Equal(s.pending, o.pending) &&
		s.escaped == o.escaped && s.dollar == o.dollar && (s.delim == nil) == (o.delim == nil) &&
		s.line == o.line
}

func (s shellState) describe() string {
	if s.delim != nil {
		return "a here-document delimiter"
	}
	return frameNames[s.stack[len(s.stack)-1].kind]
}

// unterminated says what is left open at the end of a template, or "".
func (s shellState) unterminated() string {
	st := s.clone()
	if st.delim != nil {
		st.finishDelim()
	}
	if st.top().kind == fComment {
		st.pop()
	}
	if st.top().kind == fHeredoc && st.line == st.top().doc.delim {
		st.pop() // the delimiter line without a final newline
	}
	switch {
	case len(st.stack) > 1:
		return "inside " + frameNames[st.top().kind]
	case len(st.pending) > 0:
		return "with a here-document (<<" + st.pending[0].delim + ") whose body never starts"
	case st.escaped:
		return "with a backslash"
	}
	return ""
}

// wordHere returns "" if a single-quoted word may be placed here, or why not.
func (s shellState) wordHere() string {
	if s.delim != nil || (s.lt == 2 && s.stack[len(s.stack)-1].kind != fArith) {
		return "in a here-document delimiter: the delimiter must be literal"
	}
	if s.escaped {
		return "right after a backslash: the backslash would escape the opening quote"
	}
	if s.dollar {
		return "right after $: $'...' is ANSI-C quoting, where backslashes in the value are interpreted"
	}
	switch k := s.stack[len(s.stack)-1].kind; k {
	case fNormal, fSubst, fBacktick, fParam, fArith:
		return ""
	case fDouble, fParamDQ:
		return "inside " + frameNames[k] + ": single quotes are literal there, so $(...) in the value would run; " +
			"assign the value to a variable outside the string (v={{ q .X }}) and write \"$v\""
	case fHeredoc:
		return "inside " + frameNames[k] + ": quotes are not special there, and a line of the value equal to the delimiter " +
			"would end it; assign the value to a variable before the here-document and use $v (unquoted delimiter)"
	case fSingle, fANSI:
		return "inside " + frameNames[k] + ": the value's quotes would close the string and leave the value unquoted"
	default:
		return "inside " + frameNames[k] + ": a newline in the value would end it"
	}
}

// afterWord is the state after an action printed a word.
func (s shellState) afterWord() shellState {
	s = s.clone()
	if s.delim != nil {
		s.delim.buf = append(s.delim.buf, 0)
	}
	if s.top().kind == fHeredoc {
		s.line += "\x00" // an action's output never makes a delimiter line
	}
	s.escaped, s.dollar, s.newSubst, s.paren, s.lt, s.wordStart = false, false, false, false, 0, false
	return s
}

func isMeta(c byte) bool {
	switch c {
	case ' ', '\t', '\n', ';', '|', '&', '(', ')', '<', '>':
		return true
	}
	return false
}

// scan advances the state over literal template text.
func (s *shellState) scan(text string) {
	for i := 0; i < len(text); i++ {
		n, k := len(s.stack), s.top().kind
		s.step(text[i])
		if s.ar != nil {
			s.ar.char(text[i], n, k, s)
		}
	}
}

func (s *shellState) step(c byte) {
	if s.delim != nil {
		s.stepDelim(c)
		return
	}
	f := s.top()
	switch f.kind {
	case fHeredoc:
		s.stepHeredoc(f, c)
	case fComment:
		if c == '\n' {
			s.pop()
			s.step(c)
		}
	case fSingle:
		if c == '\'' {
			s.pop()
		}
	case fANSI:
		switch {
		case s.escaped:
			s.escaped = false
		case c == '\\':
			s.escaped = true
		case c == '\'':
			s.pop()
		}
	case fDouble, fParamDQ:
		s.stepDouble(f, c)
	default:
		s.stepCode(f, c)
	}
}

// stepHeredoc handles a character of a here-document body: only whole lines
// matter, to find the delimiter.
func (s *shellState) stepHeredoc(f *frame, c byte) {
	if c != '\n' {
		s.line += string(c)
		return
	}
	line := s.line
	if f.doc.strip {
		line = strings.TrimLeft(line, "\t")
	}
	s.line = ""
	if line == f.doc.delim {
		s.pop()
		s.wordStart = true
		s.startHeredoc()
	}
}

// startHeredoc starts the body of the next announced here-document, if any:
// called at a newline in shell code.
func (s *shellState) startHeredoc() {
	if len(s.pending) == 0 {
		return
	}
	s.stack = append(s.stack, frame{kind: fHeredoc, doc: s.pending[0]})
	s.pending = s.pending[1:]
}

// stepDouble handles a character inside "..." or a ${...} within it.
func (s *shellState) stepDouble(f *frame, c byte) {
	if s.escaped {
		s.escaped = false
		return
	}
	if s.dollar {
		s.dollar = false
		switch c {
		case '(':
			s.push(fSubst)
			s.newSubst, s.wordStart = true, true
			return
		case '{':
			s.push(fParamDQ)
			return
		}
	}
	switch c {
	case '\\':
		s.escaped = true
	case '$':
		s.dollar = true
	case '`':
		s.push(fBacktick)
		s.wordStart = true
	case '"':
		if f.kind == fDouble {
			s.pop()
		} else {
			s.push(fDouble)
		}
	case '{':
		if f.kind == fParamDQ {
			f.depth++
		}
	case '}':
		if f.kind == fParamDQ {
			if f.depth == 0 {
				s.pop()
			} else {
				f.depth--
			}
		}
	}
}

// stepCode handles a character in shell code: plain, $(...), `...`, ${...}
// or arithmetic.
func (s *shellState) stepCode(f *frame, c byte) {
	if s.escaped {
		s.escaped, s.wordStart = false, false
		return
	}
	lt := s.lt
	s.lt = 0
	newSubst, paren := s.newSubst, s.paren
	s.newSubst, s.paren = false, false
	switch {
	case newSubst && c == '(':
		f.kind, f.depth = fArith, 1 // $(( ... ))
		return
	case paren && c == '(':
		if f.kind == fSubst || f.kind == fArith {
			f.depth-- // the first ( was counted as a subshell
		}
		s.push(fArith) // (( ... ))
		s.top().depth = 1
		return
	}
	if s.dollar {
		s.dollar = false
		switch c {
		case '(':
			s.push(fSubst)
			s.newSubst, s.wordStart = true, true
			return
		case '{':
			s.push(fParam)
			s.wordStart = false
			return
		case '\'':
			s.push(fANSI)
			return
		case '"':
			s.push(fDouble)
			return
		}
	}
	if lt == 2 && f.kind != fArith {
		// "<<" then c: "<<<" is a here-string, anything else a here-document.
		if c == '<' {
			s.wordStart = true
			return
		}
		s.delim = &delimReader{}
		if c == '-' {
			s.delim.dash = true
			return
		}
		s.stepDelim(c)
		return
	}
	ws := s.wordStart
	s.wordStart = isMeta(c)
	switch c {
	case '\\':
		s.escaped = true
	case '$':
		s.dollar = true
	case '\'':
		s.push(fSingle)
	case '"':
		s.push(fDouble)
	case '`':
		if f.kind == fBacktick {
			s.pop()
		} else {
			s.push(fBacktick)
			s.wordStart = true
		}
	case '#':
		if ws && f.kind != fArith && f.kind != fParam {
			s.push(fComment)
		}
	case '(':
		if f.kind == fSubst || f.kind == fArith {
			f.depth++
		}
		s.paren = ws
	case ')':
		if f.kind == fSubst || f.kind == fArith {
			if f.depth == 0 {
				s.pop()
			} else {
				f.depth--
			}
		}
	case '{':
		if f.kind == fParam {
			f.depth++
		}
	case '}':
		if f.kind == fParam {
			if f.depth == 0 {
				s.pop()
			} else {
				f.depth--
			}
		}
	case '<':
		s.lt = lt + 1
	case '\n':
		if f.kind != fParam && f.kind != fArith {
			s.startHeredoc()
		}
	}
}

// stepDelim reads the WORD of a here-document operator.
func (s *shellState) stepDelim(c byte) {
	d := s.delim
	switch {
	case d.inQuote != 0:
		if c == d.inQuote {
			d.inQuote = 0
		} else {
			d.buf = append(d.buf, c)
		}
	case d.escaped:
		d.buf = append(d.buf, c)
		d.escaped = false
	case c == '\\':
		d.quoted, d.escaped = true, true
	case c == '\'' || c == '"':
		d.quoted, d.inQuote = true, c
	case (c == ' ' || c == '\t') && len(d.buf) == 0 && !d.quoted:
		// blanks between << and WORD
	case isMeta(c):
		s.finishDelim()
		s.step(c)
	default:
		d.buf = append(d.buf, c)
	}
}

// finishDelim records the here-document whose WORD was just read.
func (s *shellState) finishDelim() {
	d := s.delim
	s.delim = nil
	s.pending = append(s.pending, heredoc{delim: string(d.buf), strip: d.dash, quoted: d.quoted})
}
