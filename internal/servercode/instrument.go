package servercode

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
	"github.com/kumo-iot/kumo"
)

// stepFunc is the native function the instrumented script calls before
// each counted statement. Names starting with __kii_ are reserved to the
// runtime (Kii's rule), so a script cannot define or call it itself.
const stepFunc = "__kii_s"

// forbidden are the identifiers Kii rejects at deployment (spec §3.6).
var forbidden = map[string]string{
	"eval":        "eval is not allowed in server code",
	"setTimeout":  "setTimeout is not allowed in server code",
	"setInterval": "setInterval is not allowed in server code",
	"__filename":  "__filename is not allowed in server code",
	"__dirname":   "__dirname is not allowed in server code",
}

// insertion is text put into the script at a byte offset.
type insertion struct {
	at   int
	text string
}

// analysis walks a parsed script: it checks Kii's static restrictions
// and collects the step-counting insertions.
type analysis struct {
	src     string
	base    int // the file's first Idx
	fset    *file.FileSet
	visited map[uintptr]bool
	ins     []insertion
	err     error
}

// instrument parses script, rejects what Kii rejects (INVALID_INPUT_DATA
// naming the line), and returns the script with a call of stepFunc before
// each statement that counts as a step (spec §3.7): expression
// statements, declarations with var/let/const, return, throw, break and
// continue. Control statements (if, for, while, switch, try, blocks) and
// function declarations do not count; a loop body counts once per
// iteration. The insertions stay on the statement's line, so that line
// numbers in errors are the script's own.
func instrument(script string) (string, error) {
	fset := &file.FileSet{}
	prog, err := parser.ParseFile(fset, "server-code.js", script, 0)
	if err != nil {
		return "", kumo.Errorf(kumo.ErrInvalidInputData, "The server code does not parse: %v", err)
	}
	a := &analysis{src: script, base: 1, fset: fset, visited: map[uintptr]bool{}}
	if prog.File != nil {
		a.base = prog.File.Base()
	}
	a.list(prog.Body)
	a.walk(reflect.ValueOf(prog))
	if a.err != nil {
		return "", a.err
	}
	sort.SliceStable(a.ins, func(i, k int) bool { return a.ins[i].at < a.ins[k].at })
	var b strings.Builder
	b.Grow(len(script) + len(a.ins)*12)
	last := 0
	for _, in := range a.ins {
		b.WriteString(script[last:in.at])
		b.WriteString(in.text)
		last = in.at
	}
	b.WriteString(script[last:])
	return b.String(), nil
}

func (a *analysis) offset(idx file.Idx) int {
	o := int(idx) - a.base
	return min(max(o, 0), len(a.src))
}

func (a *analysis) fail(idx file.Idx, format string, args ...any) {
	if a.err != nil {
		return
	}
	pos := a.fset.Position(idx)
	a.err = kumo.Errorf(kumo.ErrInvalidInputData, "Line %d: %s", pos.Line, fmt.Sprintf(format, args...))
}

// start is where a statement really starts: goja's AST has no node for
// parentheses, so a statement "(f || g)()" starts before its first
// expression's Idx0.
func (a *analysis) start(s ast.Statement) int {
	o := a.offset(s.Idx0())
	for i := o - 1; i >= 0; i-- {
		switch a.src[i] {
		case ' ', '\t', '\r', '\n':
		case '(':
			o = i
		default:
			return o
		}
	}
	return o
}

// list instruments a statement list: a step before each counted statement.
func (a *analysis) list(stmts []ast.Statement) {
	for _, s := range stmts {
		switch s := s.(type) {
		case *ast.ExpressionStatement:
			if _, directive := s.Expression.(*ast.StringLiteral); directive {
				continue // "use strict" and other no-ops
			}
		case *ast.VariableStatement, *ast.LexicalDeclaration, *ast.ReturnStatement,
			*ast.ThrowStatement, *ast.BranchStatement:
		default:
			continue
		}
		a.ins = append(a.ins, insertion{a.start(s), stepFunc + "();"})
	}
}

// body instruments a statement that is the body of if, else, a loop or
// with without braces.
func (a *analysis) body(s ast.Statement) {
	switch s := s.(type) {
	case *ast.ExpressionStatement:
		a.ins = append(a.ins, insertion{a.start(s), stepFunc + "(),"})
	case *ast.ReturnStatement:
		a.ins = append(a.ins, insertion{a.offset(s.Return) + len("return"), " " + stepFunc + "(),"})
		if s.Argument == nil {
			a.ins[len(a.ins)-1].text = " " + stepFunc + "()"
		}
	case *ast.ThrowStatement:
		a.ins = append(a.ins, insertion{a.offset(s.Throw) + len("throw"), " " + stepFunc + "(),"})
	case *ast.BranchStatement:
		end := a.offset(s.Idx1())
		for i := end; i < len(a.src); i++ {
			if c := a.src[i]; c == ';' {
				end = i + 1
				break
			} else if c != ' ' && c != '\t' {
				break
			}
		}
		a.ins = append(a.ins, insertion{a.offset(s.Idx0()), "{" + stepFunc + "();"}, insertion{end, "}"})
	}
}

var (
	identifierType = reflect.TypeOf(ast.Identifier{})
	astPkg         = identifierType.PkgPath()
)

// walk visits every node of the tree under v once.
func (a *analysis) walk(v reflect.Value) {
	if a.err != nil || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			a.walk(v.Elem())
		}
		return
	case reflect.Pointer:
		if v.IsNil() || v.Type().Elem().PkgPath() != astPkg {
			return
		}
		if a.visited[v.Pointer()] {
			return
		}
		a.visited[v.Pointer()] = true
		if n, ok := v.Interface().(ast.Node); ok {
			a.node(n)
		}
		a.walk(v.Elem())
		return
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			a.walk(v.Index(i))
		}
		return
	case reflect.Struct:
		if v.Type().PkgPath() != astPkg || v.Type() == identifierType {
			return // a property name (obj.name), not a reference
		}
		for i := 0; i < v.NumField(); i++ {
			a.walk(v.Field(i))
		}
	}
}

// node checks one node and instruments the statement lists and bodies it
// holds.
func (a *analysis) node(n ast.Node) {
	switch n := n.(type) {
	case *ast.Identifier:
		name := string(n.Name)
		if msg, ok := forbidden[name]; ok {
			a.fail(n.Idx, "%s", msg)
		} else if strings.HasPrefix(name, "__kii_") {
			a.fail(n.Idx, "identifiers starting with __kii_ are reserved (%s)", name)
		}
	case *ast.NewExpression:
		if id, ok := n.Callee.(*ast.Identifier); ok && id.Name == "Array" {
			a.fail(n.New, "the Array constructor is not allowed in server code (use [])")
		}
	case *ast.CallExpression:
		if id, ok := n.Callee.(*ast.Identifier); ok && id.Name == "Array" {
			a.fail(id.Idx, "the Array constructor is not allowed in server code (use [])")
		}
	case *ast.BlockStatement:
		a.list(n.List)
	case *ast.CaseStatement:
		a.list(n.Consequent)
	case *ast.IfStatement:
		a.body(n.Consequent)
		if n.Alternate != nil {
			a.body(n.Alternate)
		}
	case *ast.ForStatement:
		a.body(n.Body)
	case *ast.ForInStatement:
		a.body(n.Body)
	case *ast.ForOfStatement:
		a.body(n.Body)
	case *ast.WhileStatement:
		a.body(n.Body)
	case *ast.DoWhileStatement:
		a.body(n.Body)
	case *ast.WithStatement:
		a.body(n.Body)
	}
}
