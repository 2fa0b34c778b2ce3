package servercode

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// maxFastJSONDepth is the deepest nesting parseJSON handles; deeper
// documents go to the runtime's JSON.parse.
const maxFastJSONDepth = 200

// parseJSON turns a JSON document into runtime values as the runtime's
// JSON.parse (without reviver) does — same objects, key order, numbers
// and strings — reading the bytes directly instead of through
// encoding/json's token stream, which costs an allocation per token. It
// is used for the endpoint's arguments and the bridge's answers. ok is
// false for anything it does not parse (invalid JSON, too deep): the
// caller then uses JSON.parse, which reports the error.
func (v *vm) parseJSON(data []byte) (val goja.Value, ok bool) {
	p := jsonParser{rt: v.rt, data: data}
	val, ok = p.value(0)
	if !ok {
		return nil, false
	}
	p.space()
	return val, p.pos == len(p.data)
}

type jsonParser struct {
	rt   *goja.Runtime
	data []byte
	pos  int
}

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (goja.Value, bool) {
	p.space()
	if p.pos >= len(p.data) || depth > maxFastJSONDepth {
		return nil, false
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		return p.rt.ToValue(s), true
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case p.literal("true"):
		return p.rt.ToValue(true), true
	case p.literal("false"):
		return p.rt.ToValue(false), true
	case p.literal("null"):
		return goja.Null(), true
	}
	return nil, false
}

func (p *jsonParser) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

func (p *jsonParser) object(depth int) (goja.Value, bool) {
	o := p.rt.NewObject()
	p.pos++ // {
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return o, true
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, false
		}
		key, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, false
		}
		p.pos++
		val, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		// As JSON.parse: an own data property, "__proto__" included.
		if o.DefineDataProperty(key, val, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE) != nil {
			return nil, false
		}
		p.space()
		if p.pos >= len(p.data) {
			return nil, false
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return o, true
		default:
			return nil, false
		}
	}
}

func (p *jsonParser) array(depth int) (goja.Value, bool) {
	p.pos++ // [
	var items []any
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return p.rt.NewArray(), true
	}
	for {
		val, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		items = append(items, val)
		p.space()
		if p.pos >= len(p.data) {
			return nil, false
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return p.rt.NewArray(items...), true
		default:
			return nil, false
		}
	}
}

// str reads a string at p.pos (its opening quote).
func (p *jsonParser) str() (string, bool) {
	start := p.pos
	p.pos++
	plain := true // no escape, no byte ≥ 0x80
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			if plain {
				return string(p.data[start+1 : p.pos-1]), true
			}
			raw := p.data[start:p.pos]
			if !utf8.Valid(raw) {
				return "", false // JSON.parse's decoder decides what becomes of it
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			plain = false
			p.pos += 2
			continue
		case c < 0x20:
			return "", false
		case c >= 0x80:
			plain = false
		}
		p.pos++
	}
	return "", false
}

// number reads a number in JSON's grammar; like JSON.parse, a float64.
func (p *jsonParser) number() (goja.Value, bool) {
	start := p.pos
	d := p.data
	if d[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos < len(d) && d[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return nil, false
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(string(d[start:p.pos]), 64)
	if err != nil {
		return nil, false
	}
	return p.rt.ToValue(f), true
}
