package templates

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// Template values in bash arithmetic.
//
// q makes a value one literal word, but bash evaluates the value of a
// variable used in arithmetic as an expression, recursively: with
// v='a[$(touch /tmp/x)0]', $((v + 1)), ((v > 1)), [[ $v -eq 1 ]], ${a[$v]},
// ${s:$v}, let, declare -i and ${!v} all run touch. The tracker follows the
// shell variables assigned from template values through a template's text
// and refuses their use in such a context unless a number check ran between
// the assignment and the use:
//
//	timeout={{ q .Vars.timeout }}
//	[[ $timeout =~ ^[0-9]+$ ]] || { echo "timeout must be a whole number, got: $timeout" >&2; exit 2; }
//	deadline=$((SECONDS + timeout))
//
// or, on several lines, if [[ ! $timeout =~ ^[0-9]+$ ]]; then ... exit ...; fi.
// The regex must be unquoted, anchored with ^ and $, and match only non-empty
// strings of ASCII digits (^[0-9]+$, ^(0|[1-9][0-9]*)$...). A template value
// placed directly in an arithmetic context is refused too.
//
// It is a lexical approximation: it follows the template's {{if}}, {{with}}
// and {{range}} branches (a check counts after a branch only if every branch
// made it) but not the shell's own control flow (a check inside a shell if,
// loop or function counts from where it stands); values copied from one
// variable to another ($y=$x, y="pre$x") carry their taint, command output
// (y=$(cmd "$x")) does not; raw values are the escape hatch and are not
// followed; a {{template}} call's shell code is checked on its own.

const (
	valueByte  = 0 // a template value, printed by an action, in collected text
	opaqueByte = 1 // the output of a nested $(...), `...` or $((...))
)

// taint is a shell variable that holds (or was derived from) a template value.
type taint struct {
	line    int  // where it was assigned
	checked bool // a number check ran since
}

// tracker is the variable-tracking part of a shellState. Its frames mirror
// the shell state's stack.
type tracker struct {
	c      *checker
	vars   map[string]taint
	frames []*tframe
	line   int    // the line of the character being read
	hdLine []byte // the current line of an unquoted here-document body
}

// tframe is what the tracker collects for one shell frame: the words of the
// current command for plain code, $(...) and `...`; the text of an
// arithmetic expression or a ${...} expansion.
type tframe struct {
	kind frameKind
	line int // where the frame starts

	// Command frames.
	words  []*word
	cur    *word
	esc    bool // the previous character was a backslash
	pend   byte // an operator character (& | ;) waiting for the next one
	prev   byte // the previous character read at this level
	cond   bool // inside [[ ... ]]
	regex  bool // reading the regex after =~
	array  int  // inside NAME=( ... ): the parenthesis depth
	ifs    []ifFrame
	braces int
	or     *orGuard

	// Arithmetic and ${...} frames.
	text  []byte
	lines []int
}

type word struct {
	text []byte
	line int
}

// ifFrame is a shell if being read; guard is the variable its condition
// checks with if [[ ! $x =~ RE ]].
type ifFrame struct {
	guard   string
	inThen  bool
	inElse  bool
	sawExit bool
}

// orGuard is [[ $x =~ RE ]] || ...: an exit before the end of the line
// makes x checked.
type orGuard struct {
	name   string
	braces int
}

func newTracker(c *checker) *tracker {
	return &tracker{c: c, vars: map[string]taint{}, frames: []*tframe{{kind: fNormal}}}
}

func (t *tracker) clone() *tracker {
	if t == nil {
		return nil
	}
	n := *t
	n.vars = maps.Clone(t.vars)
	n.hdLine = slices.Clone(t.hdLine)
	n.frames = make([]*tframe, len(t.frames))
	for i, f := range t.frames {
		g := *f
		g.words = make([]*word, len(f.words))
		for j, w := range f.words {
			g.words[j] = &word{text: slices.Clone(w.text), line: w.line}
		}
		if f.cur != nil {
			g.cur = &word{text: slices.Clone(f.cur.text), line: f.cur.line}
		}
		g.ifs = slices.Clone(f.ifs)
		if f.or != nil {
			o := *f.or
			g.or = &o
		}
		g.text = slices.Clone(f.text)
		g.lines = slices.Clone(f.lines)
		n.frames[i] = &g
	}
	return &n
}

// merge returns the state after either a or b ran (two template branches):
// a variable is tainted if it is in either, checked only if checked in
// every branch that has it. The rest of the state is a's; a value that only
// b put in the word being read is added to a's.
func mergeTrackers(a, b *tracker) *tracker {
	if a == nil || b == nil {
		return a
	}
	m := a.clone()
	for k, vb := range b.vars {
		va, ok := m.vars[k]
		if !ok {
			m.vars[k] = vb
			continue
		}
		va.checked = va.checked && vb.checked
		va.line = min(va.line, vb.line)
		m.vars[k] = va
	}
	for i := range min(len(m.frames), len(b.frames)) {
		fm, fb := m.frames[i], b.frames[i]
		if fb.cur != nil && bytes.IndexByte(fb.cur.text, valueByte) >= 0 &&
			(fm.cur == nil || bytes.IndexByte(fm.cur.text, valueByte) < 0) {
			fm.addChar(valueByte, fb.cur.line)
		}
		if bytes.IndexByte(fb.text, valueByte) >= 0 && bytes.IndexByte(fm.text, valueByte) < 0 {
			fm.text = append(fm.text, valueByte)
			fm.lines = append(fm.lines, m.line)
		}
	}
	return m
}

func isCmdFrame(k frameKind) bool { return k == fNormal || k == fSubst || k == fBacktick }

func isTransparent(k frameKind) bool {
	return k == fDouble || k == fSingle || k == fANSI || k == fComment || k == fHeredoc
}

// char follows character c, which the shell state read in its frame
// before-1 (of kind k) and which left the state s.
func (t *tracker) char(c byte, before int, k frameKind, s *shellState) {
	recv := before - 1
	if k == fComment && c == '\n' {
		recv-- // the comment ended: the newline is code
	}
	if recv >= len(t.frames) || recv < 0 {
		t.sync(s)
		return
	}
	opened := len(s.stack) > before
	f := t.frames[recv]
	switch {
	case f.kind == fDouble:
		if p := t.below(recv); p != nil {
			p.raw(c, t.line)
		}
	case f.kind == fHeredoc:
		if !heredocQuoted(s, recv) {
			t.heredocChar(c)
		}
	case isTransparent(f.kind):
		// literal text, or a comment
	case isCmdFrame(f.kind):
		newTop := s.top().kind
		if k == fComment {
			opened = false
		}
		t.lex(f, c, opened, newTop)
	default: // fArith, fParam, fParamDQ
		f.text = append(f.text, c)
		f.lines = append(f.lines, t.line)
	}
	if c == '\n' {
		t.line++
	}
	t.sync(s)
}

// heredocQuoted reports whether the here-document frame i of s has a quoted
// delimiter (no expansion in its body).
func heredocQuoted(s *shellState, i int) bool {
	if i < len(s.stack) && s.stack[i].kind == fHeredoc {
		return s.stack[i].doc.quoted
	}
	return true
}

// below returns the nearest frame under i that collects text.
func (t *tracker) below(i int) *tframe {
	for j := i - 1; j >= 0; j-- {
		if !isTransparent(t.frames[j].kind) {
			return t.frames[j]
		}
	}
	return nil
}

// raw adds c, read in a nested frame, to what f collects.
func (f *tframe) raw(c byte, line int) {
	if isCmdFrame(f.kind) {
		f.addChar(c, line)
		return
	}
	f.text = append(f.text, c)
	f.lines = append(f.lines, line)
}

func (f *tframe) addChar(c byte, line int) {
	if f.cur == nil {
		f.cur = &word{line: line}
	}
	f.cur.text = append(f.cur.text, c)
}

// sync makes the tracker's frames mirror s's stack, closing the frames s
// left and opening the ones it entered.
func (t *tracker) sync(s *shellState) {
	i := 0
	for i < len(t.frames) && i < len(s.stack) && t.frames[i].kind == s.stack[i].kind {
		i++
	}
	for len(t.frames) > i {
		t.closeTop()
	}
	for j := i; j < len(s.stack); j++ {
		t.frames = append(t.frames, &tframe{kind: s.stack[j].kind, line: t.line})
	}
}

// closeTop ends the innermost frame and hands its result to the frame
// below.
func (t *tracker) closeTop() {
	n := len(t.frames) - 1
	f := t.frames[n]
	t.frames = t.frames[:n]
	p := t.below(n)
	switch {
	case f.kind == fHeredoc:
		t.hdLine = nil // the delimiter line
	case isCmdFrame(f.kind):
		t.endCommand(f, "")
		if p != nil {
			p.raw(opaqueByte, t.line)
		}
	case f.kind == fArith:
		t.arith(f.text, f.lines, f.line, "arithmetic (( ... )) or $(( ... ))")
		if p != nil {
			p.raw(opaqueByte, t.line)
		}
	case f.kind == fParam || f.kind == fParamDQ:
		text := bytes.TrimSuffix(f.text, []byte("}"))
		lines := f.lines[:len(text)]
		out := t.param(text, lines, f.line)
		if p != nil {
			for _, c := range []byte(out) {
				p.raw(c, t.line)
			}
		}
	}
}

// value follows a template value printed in state s.
func (t *tracker) value(s *shellState) {
	t.sync(s)
	f := t.frames[len(t.frames)-1]
	switch {
	case isCmdFrame(f.kind):
		t.resolvePend(f, valueByte)
		f.addChar(valueByte, t.line)
	case f.kind == fArith:
		// Reported by the checker at the action.
	case f.kind == fParam || f.kind == fParamDQ:
		f.text = append(f.text, valueByte)
		f.lines = append(f.lines, t.line)
	}
}

// Command words.

var keywords = map[string]bool{
	"if": true, "then": true, "elif": true, "else": true, "fi": true, "while": true, "until": true,
	"do": true, "done": true, "!": true, "{": true, "}": true, "time": true,
}

// lex reads c in command frame f. opened says c opened a frame (the ( of
// $(, a quote): it is then part of the word.
func (t *tracker) lex(f *tframe, c byte, opened bool, newTop frameKind) {
	defer func() { f.prev = c }()
	if f.esc {
		f.esc = false
		if c != '\n' { // a backslash-newline joins lines
			f.addChar(c, t.line)
		}
		return
	}
	if opened {
		t.resolvePend(f, c)
		if newTop == fComment {
			t.endWord(f)
			return
		}
		f.addChar(c, t.line)
		return
	}
	if f.array > 0 {
		switch c {
		case '(':
			f.array++
		case ')':
			f.array--
		case '\\':
			f.esc = true
		}
		f.addChar(c, t.line)
		return
	}
	if f.regex && c != ' ' && c != '\t' && c != '\n' {
		f.addChar(c, t.line)
		return
	}
	if t.resolvePend(f, c) {
		return
	}
	if f.cond && f.cur != nil && string(f.cur.text) == "]]" && strings.IndexByte(";&|()<>", c) >= 0 {
		t.endWord(f) // ]] then an operator: the conditional is over
	}
	switch c {
	case '\\':
		f.esc = true
		f.addChar(c, t.line)
	case ' ', '\t':
		t.endWord(f)
	case '\n':
		t.endWord(f)
		if !f.cond {
			t.endCommand(f, "\n")
		}
	case '&', '|', ';':
		if f.cond {
			f.addChar(c, t.line)
			return
		}
		t.endWord(f)
		if c == '&' && (f.prev == '>' || f.prev == '<') {
			return // >&2, <&3
		}
		f.pend = c
	case '(':
		if f.cond {
			f.addChar(c, t.line)
			return
		}
		if f.cur != nil && arrayAssignRE.Match(f.cur.text) {
			f.array = 1
			f.addChar(c, t.line)
			return
		}
		t.endWord(f)
		t.endCommand(f, "(")
	case ')':
		if f.cond {
			f.addChar(c, t.line)
			return
		}
		t.endWord(f)
		t.endCommand(f, ")")
	case '<', '>':
		if f.cond {
			f.addChar(c, t.line)
			return
		}
		t.endWord(f)
	default:
		f.addChar(c, t.line)
	}
}

var arrayAssignRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\+?=$`)

// resolvePend ends the command an operator character started, now that the
// next character c tells which operator it is; it reports whether c was
// part of the operator.
func (t *tracker) resolvePend(f *tframe, c byte) bool {
	p := f.pend
	if p == 0 {
		return false
	}
	f.pend = 0
	switch {
	case p == '&' && c == '&', p == '|' && c == '|', p == ';' && c == ';', p == '|' && c == '&', p == ';' && c == '&':
		t.endCommand(f, string([]byte{p, c}))
		return true
	case p == '&' && c == '>':
		return false // &>file
	}
	t.endCommand(f, string(p))
	return false
}

func (t *tracker) endWord(f *tframe) {
	if f.cur == nil {
		return
	}
	w := f.cur
	f.cur = nil
	f.words = append(f.words, w)
	s := string(w.text)
	switch {
	case f.regex:
		f.regex = false
	case !f.cond && s == "[[" && allKeywords(f.words[:len(f.words)-1]):
		f.cond = true
	case f.cond && s == "]]":
		f.cond = false
	case f.cond && s == "=~":
		f.regex = true
	}
}

func allKeywords(ws []*word) bool {
	for _, w := range ws {
		if !keywords[string(w.text)] {
			return false
		}
	}
	return true
}

// endCommand analyses the simple command just read in f; op is what ended
// it ("\n", ";", "||", "&&", "|", "&", "(", ")", or "" at the end of the
// frame).
func (t *tracker) endCommand(f *tframe, op string) {
	if f.pend != 0 && op == "" {
		p := f.pend
		f.pend = 0
		t.endCommand(f, string(p))
	}
	t.endWord(f)
	f.cond, f.regex, f.array = false, false, 0
	words := f.words
	f.words = nil
	if len(words) == 0 {
		return
	}
	t.command(f, words, op)
	if f.or != nil && f.braces <= f.or.braces && (op == "\n" || op == ";" || op == "&" || op == "") {
		f.or = nil
	}
}

func (t *tracker) command(f *tframe, words []*word, op string) {
	ifCond := false
	i := 0
keywords:
	for ; i < len(words); i++ {
		top := len(f.ifs) - 1
		switch string(words[i].text) {
		case "if":
			f.ifs = append(f.ifs, ifFrame{})
			ifCond = true
			continue
		case "elif":
			if top >= 0 {
				f.ifs[top].inElse = true
			}
			ifCond = false
		case "then":
			if top >= 0 {
				f.ifs[top].inThen = true
			}
		case "else":
			if top >= 0 {
				f.ifs[top].inElse = true
			}
		case "fi":
			if top >= 0 {
				if g := f.ifs[top]; g.guard != "" && g.sawExit {
					t.markChecked(g.guard)
				}
				f.ifs = f.ifs[:top]
			}
		case "{":
			f.braces++
		case "}":
			f.braces--
		case "while", "until", "do", "done", "!", "time":
		default:
			break keywords
		}
		ifCond = false
	}
	rest := words[i:]
	for _, w := range rest {
		t.dollarBracket(w)
	}
	if len(rest) == 0 {
		return
	}
	name := string(rest[0].text)
	switch name {
	case "[[":
		t.conditional(f, rest, ifCond, op)
		return
	case "exit":
		if f.or != nil {
			t.markChecked(f.or.name)
			f.or = nil
		}
		if top := len(f.ifs) - 1; top >= 0 && f.ifs[top].inThen && !f.ifs[top].inElse {
			f.ifs[top].sawExit = true
		}
		return
	case "let":
		for _, w := range rest[1:] {
			t.arith(w.text, nil, w.line, "let")
		}
		return
	case "for":
		if len(rest) >= 3 && string(rest[2].text) == "in" && identRE.Match(rest[1].text) {
			t.assign(string(rest[1].text), bytes.Join(wordTexts(rest[3:]), []byte(" ")), rest[1].line)
		}
		return
	case "read", "mapfile", "readarray":
		// read t <<<{{ q .X }}: every name it sets holds the value.
		if t.tainted(rest[1:]) {
			for _, w := range rest[1:] {
				if identRE.Match(w.text) {
					t.vars[string(w.text)] = taint{line: w.line}
				}
			}
		}
		return
	case "printf":
		for i := 1; i+1 < len(rest); i++ {
			if string(rest[i].text) == "-v" && identRE.Match(rest[i+1].text) {
				t.assign(string(rest[i+1].text), bytes.Join(wordTexts(rest[i+2:]), []byte(" ")), rest[i+1].line)
			}
		}
		return
	}
	j, decl, intAttr, nameRef := 0, false, false, false
	switch name {
	case "local", "declare", "typeset", "export", "readonly":
		decl, j = true, 1
		for j < len(rest) && len(rest[j].text) > 1 && rest[j].text[0] == '-' {
			intAttr = intAttr || bytes.IndexByte(rest[j].text, 'i') > 0
			nameRef = nameRef || bytes.IndexByte(rest[j].text, 'n') > 0
			j++
		}
	}
	for ; j < len(rest); j++ {
		m := assignRE.FindSubmatch(rest[j].text)
		if m == nil {
			if decl {
				continue
			}
			break
		}
		n, sub, rhs := string(m[1]), m[2], rest[j].text[len(m[0]):]
		if len(sub) > 0 {
			t.arith(sub[1:len(sub)-1], nil, rest[j].line, "an array subscript")
		}
		if intAttr {
			t.arith(rhs, nil, rest[j].line, "the value of an integer variable (declare -i)")
		}
		if nameRef {
			t.arith(rhs, nil, rest[j].line, "the target of a name reference (declare -n), whose subscript is arithmetic")
		}
		t.assign(n, rhs, rest[j].line)
	}
}

var (
	identRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	assignRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(\[[^]]*\])?\+?=`)
)

// tainted reports whether a word of ws holds a template value or expands a
// tracked variable.
func (t *tracker) tainted(ws []*word) bool {
	for _, w := range ws {
		if bytes.IndexByte(w.text, valueByte) >= 0 {
			return true
		}
		for _, r := range refs(w.text) {
			if _, ok := t.vars[r]; ok {
				return true
			}
		}
	}
	return false
}

func wordTexts(ws []*word) [][]byte {
	out := make([][]byte, len(ws))
	for i, w := range ws {
		out[i] = w.text
	}
	return out
}

// dollarBracket checks the obsolete $[ ... ] arithmetic in a word.
func (t *tracker) dollarBracket(w *word) {
	for rest := w.text; ; {
		i := bytes.Index(rest, []byte("$["))
		if i < 0 {
			return
		}
		rest = rest[i+2:]
		end := bytes.IndexByte(rest, ']')
		if end < 0 {
			end = len(rest)
		}
		t.arith(rest[:end], nil, w.line, "arithmetic $[ ... ]")
	}
}

// conditional analyses [[ ... ]]: the operands of -eq and the other
// arithmetic comparisons are evaluated as arithmetic; [[ $x =~ RE ]] with a
// digits-only RE is a number check when it guards an exit.
func (t *tracker) conditional(f *tframe, ws []*word, ifCond bool, op string) {
	end := len(ws)
	for i, w := range ws {
		if i > 0 && string(w.text) == "]]" {
			end = i
			break
		}
	}
	cw := ws[1:end]
	for i, w := range cw {
		switch string(w.text) {
		case "-eq", "-ne", "-lt", "-le", "-gt", "-ge":
			ctx := "a [[ ... " + string(w.text) + " ... ]] comparison"
			if i > 0 {
				t.arith(cw[i-1].text, nil, cw[i-1].line, ctx)
			}
			if i+1 < len(cw) {
				t.arith(cw[i+1].text, nil, cw[i+1].line, ctx)
			}
		}
	}
	neg := len(cw) > 0 && string(cw[0].text) == "!"
	if neg {
		cw = cw[1:]
	}
	if len(cw) != 3 || string(cw[1].text) != "=~" || !isDigitsRegex(string(cw[2].text)) {
		return
	}
	name := plainRef(cw[0].text)
	switch {
	case name == "":
	case neg && ifCond && len(f.ifs) > 0:
		f.ifs[len(f.ifs)-1].guard = name
	case !neg && op == "||":
		f.or = &orGuard{name: name, braces: f.braces}
	}
}

var plainRefRE = regexp.MustCompile(`^"?\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})"?$`)

// plainRef returns x for a word that is just $x or ${x}, quoted or not.
func plainRef(w []byte) string {
	m := plainRefRE.FindSubmatch(w)
	if m == nil || (w[0] == '"') != (w[len(w)-1] == '"') {
		return ""
	}
	return string(m[1]) + string(m[2])
}

// isDigitsRegex reports whether re, an unquoted bash =~ operand, is a
// number check: anchored with ^ and $, matching only non-empty strings of
// ASCII digits.
func isDigitsRegex(re string) bool {
	if !strings.HasPrefix(re, "^") || !strings.HasSuffix(re, "$") ||
		strings.ContainsAny(strings.TrimSuffix(re, "$"), "'\"\\`$\x00\x01") {
		return false
	}
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil || r.Op != syntax.OpConcat || len(r.Sub) < 3 ||
		r.Sub[0].Op != syntax.OpBeginText || r.Sub[len(r.Sub)-1].Op != syntax.OpEndText {
		return false
	}
	for _, s := range r.Sub[1 : len(r.Sub)-1] {
		if !digitsOnly(s) {
			return false
		}
	}
	c, err := regexp.Compile(re)
	return err == nil && !c.MatchString("")
}

func digitsOnly(r *syntax.Regexp) bool {
	switch r.Op {
	case syntax.OpLiteral:
		for _, c := range r.Rune {
			if c < '0' || c > '9' {
				return false
			}
		}
		return len(r.Rune) > 0
	case syntax.OpCharClass:
		for i := 0; i+1 < len(r.Rune); i += 2 {
			if r.Rune[i] < '0' || r.Rune[i+1] > '9' {
				return false
			}
		}
		return len(r.Rune) > 0
	case syntax.OpEmptyMatch:
		return true
	case syntax.OpConcat, syntax.OpAlternate, syntax.OpCapture, syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		for _, s := range r.Sub {
			if !digitsOnly(s) {
				return false
			}
		}
		return true
	}
	return false
}

// Variables.

func (t *tracker) markChecked(name string) {
	if v, ok := t.vars[name]; ok {
		v.checked = true
		t.vars[name] = v
	}
}

// assign follows name=rhs: a template value in rhs taints name; a plain
// copy of a variable copies its state; any other use of a tracked variable
// taints name unchecked; anything else clears it.
func (t *tracker) assign(name string, rhs []byte, line int) {
	if bytes.IndexByte(rhs, valueByte) >= 0 {
		t.vars[name] = taint{line: line}
		return
	}
	if r := plainRef(rhs); r != "" {
		if v, ok := t.vars[r]; ok {
			t.vars[name] = v
		} else {
			delete(t.vars, name)
		}
		return
	}
	for _, r := range refs(rhs) {
		if _, ok := t.vars[r]; ok {
			t.vars[name] = taint{line: line}
			return
		}
	}
	delete(t.vars, name)
}

// refs returns the variables expanded in a word ($x, ${x}), not counting
// those inside $(...) (their output is not followed).
func refs(w []byte) []string {
	var out []string
	for i := 0; i < len(w); i++ {
		switch {
		case w[i] == '\\':
			i++
		case w[i] == '$' && i+1 < len(w) && w[i+1] == '{':
			j := i + 2
			for j < len(w) && isIdentByte(w[j], j > i+2) {
				j++
			}
			if j > i+2 {
				out = append(out, string(w[i+2:j]))
			}
			i = j - 1
		case w[i] == '$':
			j := i + 1
			for j < len(w) && isIdentByte(w[j], j > i+1) {
				j++
			}
			if j > i+1 {
				out = append(out, string(w[i+1:j]))
			}
			i = j - 1
		}
	}
	return out
}

func isIdentByte(c byte, notFirst bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (notFirst && c >= '0' && c <= '9')
}

// arith checks text that bash evaluates as arithmetic: no template value in
// it, and no tracked variable that was not checked, whether expanded ($x,
// ${x}) or named bare (x: bash reads the variable and evaluates its value
// too). lines gives each byte's line; nil means every byte is on line.
func (t *tracker) arith(text []byte, lines []int, line int, ctx string) {
	at := func(i int) int {
		if lines != nil && i < len(lines) {
			return lines[i]
		}
		return line
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == valueByte:
			t.report(at(i), "", "a template value inside "+ctx+": bash evaluates it as an expression, where "+
				"a[$(cmd)] runs cmd; assign it to a variable, check that with [[ $v =~ ^[0-9]+$ ]] || exit, and use $v")
		case c == '\\':
			i++
		case c >= '0' && c <= '9':
			for i+1 < len(text) && (isIdentByte(text[i+1], true) || text[i+1] == '#' || text[i+1] == '@') {
				i++ // a number: 42, 0x1F, 8#17, 64#a@
			}
		case c == '$' && i+1 < len(text) && text[i+1] == '{':
			i++
		case c == '$' || isIdentByte(c, false):
			j := i
			if c == '$' {
				j++
			}
			k := j
			for k < len(text) && isIdentByte(text[k], k > j) {
				k++
			}
			if k > j {
				t.use(string(text[j:k]), at(i), ctx)
			}
			i = max(k-1, i)
		}
	}
}

// use reports a tracked variable used in ctx before a number check.
func (t *tracker) use(name string, line int, ctx string) {
	v, ok := t.vars[name]
	if !ok || v.checked {
		return
	}
	t.report(line, "$"+name, fmt.Sprintf("holds a template value (assigned on line %d) and is used in %s without a number check: "+
		"bash evaluates the value there, and a value such as a[$(cmd)] would run cmd; check it after the assignment: "+
		`[[ $%s =~ ^[0-9]+$ ]] || { echo "%s must be a whole number, got: $%s" >&2; exit 2; }`,
		v.line, ctx, name, name, name))
}

func (t *tracker) report(line int, action, reason string) {
	t.c.report(&CheckError{Template: t.c.tree.ParseName, Location: fmt.Sprintf("%s:%d", t.c.tree.ParseName, line),
		Action: action, Reason: reason})
}

// param analyses the text of ${...} (without the braces) and returns what
// stands for it in the enclosing text: "x}" for an expansion of variable x
// (after the "${" already there), "}" for one that yields no variable's
// value, and a value byte before it if a template value is in its word part.
func (t *tracker) param(text []byte, lines []int, line int) string {
	at := func(i int) int {
		if i < len(lines) {
			return lines[i]
		}
		return line
	}
	mark := ""
	name := func(s []byte) int {
		k := 0
		for k < len(s) && isIdentByte(s[k], k > 0) {
			k++
		}
		return k
	}
	switch {
	case len(text) > 1 && text[0] == '!':
		k := name(text[1:])
		if k > 0 && 1+k == len(text) {
			t.use(string(text[1:1+k]), at(0), "an indirect expansion ${!...}")
		}
		return "}"
	case len(text) > 1 && text[0] == '#':
		k := name(text[1:])
		if k > 0 && 1+k < len(text) && text[1+k] == '[' {
			t.subscript(text[1+k:], lines[min(1+k, len(lines)):], line)
		}
		return "}"
	}
	k := name(text)
	if k == 0 {
		if bytes.IndexByte(text, valueByte) >= 0 {
			mark = string(rune(valueByte))
		}
		return mark + "}"
	}
	rest, restLines := text[k:], lines[min(k, len(lines)):]
	if len(rest) > 0 && rest[0] == '[' {
		n := t.subscript(rest, restLines, line)
		rest, restLines = rest[n:], restLines[min(n, len(restLines)):]
	}
	if len(rest) > 1 && rest[0] == ':' && !strings.ContainsRune("-=?+", rune(rest[1])) {
		t.arith(rest[1:], restLines[min(1, len(restLines)):], at(k), "a substring offset ${v:offset:length}")
		rest = nil
	}
	if bytes.IndexByte(rest, valueByte) >= 0 {
		mark = string(rune(valueByte))
	}
	return mark + string(text[:k]) + "}"
}

// subscript checks the [...] at the start of s as arithmetic (unless it is
// [@] or [*]) and returns its length.
func (t *tracker) subscript(s []byte, lines []int, line int) int {
	depth := 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				sub := s[1:i]
				if string(sub) != "@" && string(sub) != "*" {
					t.arith(sub, lines[min(1, len(lines)):], line, "an array subscript")
				}
				return i + 1
			}
		}
	}
	t.arith(s[1:], lines[min(1, len(lines)):], line, "an array subscript")
	return len(s)
}

// heredocChar reads a character of an unquoted here-document body, where
// $((...)) and ${...} expand: each line is checked when it ends.
func (t *tracker) heredocChar(c byte) {
	if c != '\n' {
		t.hdLine = append(t.hdLine, c)
		return
	}
	line := t.hdLine
	t.hdLine = nil
	for i := 0; i+1 < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if line[i] != '$' {
			continue
		}
		switch {
		case bytes.HasPrefix(line[i:], []byte("$((")):
			depth, j := 0, i+1
			for ; j < len(line); j++ {
				if line[j] == '(' {
					depth++
				} else if line[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			t.arith(line[i+3:min(j, len(line))], nil, t.line, "arithmetic $(( ... )) in a here-document")
			i = j
		case line[i+1] == '{':
			j := bytes.IndexByte(line[i:], '}')
			if j < 0 {
				j = len(line) - i
			}
			t.param(line[i+2:i+j], nil, t.line)
			i += j
		}
	}
}

// finish ends the template: every frame still open, and the last command.
func (t *tracker) finish() {
	if t == nil {
		return
	}
	for len(t.frames) > 1 {
		t.closeTop()
	}
	t.endCommand(t.frames[0], "")
}
