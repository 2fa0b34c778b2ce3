// Package kql compiles Kii queries (kumo.Query) to SQL over a field index:
// a table with one row per indexed top-level field of a record (see
// kumo.IndexEntries), whose value columns are
//
//	kind TEXT    -- kumo.IndexKind: 'b', 'n', 'p' or 's'
//	num  REAL    -- a number; a boolean 0/1; a point's latitude; else 0
//	str  TEXT    -- a string; a number's form ('' or '.'); else ''
//	lon  REAL    -- a point's longitude; else 0
//
// indexed on (partition…, field, kind, num, str, record ID), with the
// primary key (partition…, record ID, field). A clause becomes conditions
// on that table (IN subqueries that read the index), an orderBy on a field
// drives the query from the index in order, and pages are read by keyset:
// a paginationKey is the order key of the last row of a page (Cursor).
//
// The meaning of a query is kumo's reference evaluator (Clause.Matches,
// Query.Selects, Query.Compare); the SQL reproduces it, with one
// exception: for geodistance the SQL selects the points inside a bounding
// box of the circle and the caller keeps the rows the evaluator matches
// (Statement.Superset).
//
// The package knows nothing of objects: a Source names the tables and
// columns, so that the same compiler can serve queries on other records
// (things, users).
package kql

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kumo-iot/kumo"
)

// Dialect is what differs between databases in a query's SQL.
type Dialect interface {
	// Param returns the placeholder of the n-th argument (n from 1): "?"
	// or "$n".
	Param(n int) string
	// OrderedJoin returns the join operator that keeps the table on its
	// left as the outer loop of the join ("CROSS JOIN" on SQLite; "JOIN"
	// where the planner chooses well by itself).
	OrderedJoin() string
}

// Source describes the records a query reads and their field index.
type Source struct {
	Table   string      // the records (alias o in the SQL)
	ID      string      // the record-ID column of Table
	Index   string      // the field index table
	IndexID string      // the record-ID column of Index
	Keys    []Key       // the partition: equality on columns both tables have
	Columns []string    // the columns of Table a row returns, before the order key
	System  []SystemCol // the system fields, held in columns of Table
}

// Key is an equality condition of the partition (app_id = 'app1', …).
type Key struct {
	Column string
	Value  any
}

// SystemCol maps a system field to a column of the records' table.
type SystemCol struct {
	Field  string
	Column string
	Kind   kumo.IndexKind // IndexString, or IndexNumber for an integer column
	// EmptyAbsent says that the field is absent when the column is ''
	// (_owner of an object the admin created).
	EmptyAbsent bool
}

// Statement is a compiled query. Each row holds the Source's Columns, then
// the order key: kind, num, str, record ID (see Cursor).
type Statement struct {
	SQL  string
	Args []any
	// Superset says that rows may include records the clause does not
	// match (geodistance): the caller filters them with the evaluator.
	Superset bool
}

// Cursor is the order key of a row: where the next page starts. Its
// encoding is the opaque paginationKey.
type Cursor struct {
	Kind string  `json:"k"`
	Num  float64 `json:"n"`
	Str  string  `json:"s"`
	ID   string  `json:"i"`
}

// Encode returns c as a paginationKey.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a paginationKey made by Encode. Any other string is
// INVALID_INPUT_DATA.
func DecodeCursor(key string) (Cursor, error) {
	var c Cursor
	b, err := base64.RawURLEncoding.DecodeString(key)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return Cursor{}, kumo.Errorf(kumo.ErrInvalidInputData, "The paginationKey %q was not issued by this server", key)
	}
	return c, nil
}

// OrdersByDistance reports whether q's results are ordered by a
// calculated distance, which SQL does not compute: Compile then returns
// every row (no LIMIT, no keyset), and the caller sorts and pages.
func OrdersByDistance(q kumo.Query) bool { return strings.HasPrefix(q.OrderBy, "_calculated.") }

// Compile returns the statement that reads, in q's order, the first limit
// rows after the cursor (nil for the first page) of the records that q
// selects. limit 0 reads them all.
func Compile(src Source, q kumo.Query, after *Cursor, limit int, d Dialect) Statement {
	b := &builder{src: src, d: d}
	if OrdersByDistance(q) {
		after, limit = nil, 0
		q.OrderBy = ""
	}
	sys, isSys := src.system(q.OrderBy)
	byField := q.OrderBy != "" && !isSys
	dir, cmp := "", ">"
	if q.Descending {
		dir, cmp = " DESC", "<"
	}

	var sel, from, order string
	var where []string
	switch {
	case byField:
		// Driven by the index, in the order of its value index.
		sel = "s.kind, s.num, s.str, o." + src.ID
		join := make([]string, 0, len(src.Keys)+1)
		for _, k := range src.Keys {
			join = append(join, "o."+k.Column+" = s."+k.Column)
		}
		join = append(join, "o."+src.ID+" = s."+src.IndexID)
		from = src.Index + " s " + d.OrderedJoin() + " " + src.Table + " o ON " + strings.Join(join, " AND ")
		for _, k := range src.Keys {
			where = append(where, "s."+k.Column+" = "+b.arg(k.Value))
		}
		where = append(where, "s.field = "+b.arg(q.OrderBy))
		// Conjuncts on the order field become conditions on its row.
		var rest []kumo.Clause
		for _, c := range conjuncts(q.Clause) {
			if c.Field == q.OrderBy && c.Type != kumo.ClauseHasField {
				where = append(where, b.pred(c, "s"))
			} else {
				rest = append(rest, c)
			}
		}
		for _, c := range rest {
			if t := b.truth(c, true); t != "1 = 1" {
				where = append(where, t)
			}
		}
		switch k, fixed := fixedKind(q.Clause, q.OrderBy); {
		case after == nil:
		case !fixed:
			where = append(where, "(s.kind, s.num, s.str, s."+src.IndexID+") "+cmp+" ("+
				b.arg(after.Kind)+", "+b.arg(after.Num)+", "+b.arg(after.Str)+", "+b.arg(after.ID)+")")
		case after.Kind == string(k):
			// The kind is fixed: the index serves the rest of the key.
			where = append(where, "(s.num, s.str, s."+src.IndexID+") "+cmp+" ("+
				b.arg(after.Num)+", "+b.arg(after.Str)+", "+b.arg(after.ID)+")")
		case (after.Kind < string(k)) != q.Descending:
			// Every row is past the cursor.
		default:
			where = append(where, "1 = 0")
		}
		order = "s.kind" + dir + ", s.num" + dir + ", s.str" + dir + ", s." + src.IndexID + dir
	default:
		from = src.Table + " o"
		for _, k := range src.Keys {
			where = append(where, "o."+k.Column+" = "+b.arg(k.Value))
		}
		if c := b.truth(q.Clause, true); c != "1 = 1" {
			where = append(where, c)
		}
		id := "o." + src.ID
		switch {
		case !isSys || sys.Column == src.ID:
			sel = "'s', 0, '', " + id
			if isSys {
				sel = "'s', 0, " + id + ", " + id
			}
			if after != nil {
				where = append(where, id+" "+cmp+" "+b.arg(after.ID))
			}
			order = id + dir
		default:
			col := "o." + sys.Column
			if sys.Kind == kumo.IndexNumber {
				sel = "'n', " + col + ", '', " + id
			} else {
				sel = "'s', 0, " + col + ", " + id
			}
			if sys.EmptyAbsent {
				where = append(where, col+" <> ''")
			}
			if after != nil {
				var v any = after.Str
				if sys.Kind == kumo.IndexNumber {
					v = int64(clampInt(after.Num))
				}
				where = append(where, "("+col+", "+id+") "+cmp+" ("+b.arg(v)+", "+b.arg(after.ID)+")")
			}
			order = col + dir + ", " + id + dir
		}
	}
	cols := make([]string, len(src.Columns))
	for i, c := range src.Columns {
		cols[i] = "o." + c
	}
	sql := "SELECT " + strings.Join(cols, ", ") + ", " + sel + " FROM " + from +
		" WHERE " + strings.Join(where, " AND ") + " ORDER BY " + order
	if limit > 0 {
		sql += " LIMIT " + strconv.Itoa(limit)
	}
	return Statement{SQL: sql, Args: b.args, Superset: b.superset}
}

// CompileCount returns the statement that counts the records q's clause
// matches (one row, one column). With Superset set, the count is of a
// superset: the caller counts the rows of Compile instead.
func CompileCount(src Source, q kumo.Query, d Dialect) Statement {
	b := &builder{src: src, d: d}
	where := make([]string, 0, len(src.Keys)+1)
	for _, k := range src.Keys {
		where = append(where, "o."+k.Column+" = "+b.arg(k.Value))
	}
	if c := b.truth(q.Clause, true); c != "1 = 1" {
		where = append(where, c)
	}
	return Statement{SQL: "SELECT COUNT(*) FROM " + src.Table + " o WHERE " + strings.Join(where, " AND "),
		Args: b.args, Superset: b.superset}
}

// fixedKind returns the one kind of value that a conjunct of c allows in
// field, if there is one.
func fixedKind(c kumo.Clause, field string) (kumo.IndexKind, bool) {
	for _, c := range conjuncts(c) {
		if c.Field != field {
			continue
		}
		switch c.Type {
		case kumo.ClauseEq:
			return c.Value.Kind, true
		case kumo.ClauseRange:
			if c.Lower != nil {
				return c.Lower.Value.Kind, true
			}
			return c.Upper.Value.Kind, true
		case kumo.ClausePrefix:
			return kumo.IndexString, true
		case kumo.ClauseGeoBox, kumo.ClauseGeoDistance:
			return kumo.IndexPoint, true
		}
	}
	return 0, false
}

// conjuncts returns the clauses whose conjunction c is.
func conjuncts(c kumo.Clause) []kumo.Clause {
	if c.Type != kumo.ClauseAnd {
		return []kumo.Clause{c}
	}
	var out []kumo.Clause
	for _, s := range c.Clauses {
		out = append(out, conjuncts(s)...)
	}
	return out
}

func (s Source) system(field string) (SystemCol, bool) {
	for _, c := range s.System {
		if c.Field == field {
			return c, true
		}
	}
	return SystemCol{}, false
}

// builder accumulates a statement's arguments.
type builder struct {
	src      Source
	d        Dialect
	args     []any
	superset bool
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return b.d.Param(len(b.args))
}

// truth returns the condition on record o under which c is true (want) or
// false (!want) in the three-valued logic of kumo.Clause.Matches: a field
// clause is neither when the record lacks the field, so "false" is "has
// the field, and the test fails", and negations are pushed to the leaves.
func (b *builder) truth(c kumo.Clause, want bool) string {
	switch c.Type {
	case kumo.ClauseAll:
		if want {
			return "1 = 1"
		}
		return "1 = 0"
	case kumo.ClauseNot:
		return b.truth(c.Clauses[0], !want)
	case kumo.ClauseAnd, kumo.ClauseOr:
		op := " AND "
		if (c.Type == kumo.ClauseAnd) != want {
			op = " OR "
		}
		parts := make([]string, len(c.Clauses))
		for i, s := range c.Clauses {
			parts[i] = b.truth(s, want)
		}
		if len(parts) == 1 {
			return parts[0]
		}
		return "(" + strings.Join(parts, op) + ")"
	}
	if sys, ok := b.src.system(c.Field); ok {
		return b.systemTruth(c, sys, want)
	}
	var sb strings.Builder
	sb.WriteString("o." + b.src.ID)
	if c.Type == kumo.ClauseHasField && !want {
		sb.WriteString(" NOT")
	}
	sb.WriteString(" IN (SELECT x." + b.src.IndexID + " FROM " + b.src.Index + " x WHERE ")
	for _, k := range b.src.Keys {
		sb.WriteString("x." + k.Column + " = " + b.arg(k.Value) + " AND ")
	}
	sb.WriteString("x.field = " + b.arg(c.Field) + " AND ")
	switch {
	case want || c.Type == kumo.ClauseHasField:
		sb.WriteString(b.pred(c, "x"))
	case c.Type == kumo.ClauseGeoDistance:
		// A superset of the values outside the circle: every value (a
		// point inside it is filtered out by the caller).
		sb.WriteString("1 = 1")
		b.superset = true
	default:
		sb.WriteString("NOT (" + b.pred(c, "x") + ")")
	}
	sb.WriteString(")")
	return sb.String()
}

// systemTruth is truth for a clause on a system field (a column of o).
func (b *builder) systemTruth(c kumo.Clause, sys SystemCol, want bool) string {
	col := "o." + sys.Column
	var p string
	if c.Type == kumo.ClauseHasField {
		ok := sys.Kind == kumo.IndexString && c.FieldType == "STRING" || sys.Kind == kumo.IndexNumber && c.FieldType == "INTEGER"
		if ok == want {
			p = "1 = 1"
		} else {
			p = "1 = 0"
		}
		if sys.EmptyAbsent && ok {
			p = col + " <> ''"
			if !want {
				p = col + " = ''"
			}
		}
		return p
	}
	p = b.columnPred(c, sys, col)
	if !want {
		switch p {
		case "1 = 1":
			p = "1 = 0"
		case "1 = 0":
			p = "1 = 1"
		default:
			p = "NOT (" + p + ")"
		}
	}
	if sys.EmptyAbsent {
		p = "(" + col + " <> '' AND " + p + ")"
	}
	return p
}

// columnPred is the test of a field clause on a system column.
func (b *builder) columnPred(c kumo.Clause, sys SystemCol, col string) string {
	var parts []string
	eq := func(v kumo.IndexValue) {
		if v.Kind != sys.Kind {
			return
		}
		if sys.Kind == kumo.IndexString {
			parts = append(parts, col+" = "+b.arg(v.Str))
		} else if v.Num == math.Trunc(v.Num) && math.Abs(v.Num) < maxColumnInt {
			parts = append(parts, col+" = "+b.arg(int64(v.Num)))
		}
	}
	switch c.Type {
	case kumo.ClauseEq:
		eq(c.Value)
	case kumo.ClauseIn:
		for _, v := range c.Values {
			eq(v)
		}
	case kumo.ClauseRange:
		var conds []string
		for i, bd := range []*kumo.Bound{c.Lower, c.Upper} {
			if bd == nil {
				continue
			}
			if bd.Value.Kind != sys.Kind {
				return "1 = 0"
			}
			op := [2]string{">", "<"}[i]
			if bd.Included {
				op += "="
			}
			if sys.Kind == kumo.IndexString {
				conds = append(conds, col+" "+op+" "+b.arg(bd.Value.Str))
			} else {
				conds = append(conds, col+" "+op+" "+b.arg(intBound(bd.Value.Num, op)))
			}
		}
		return strings.Join(conds, " AND ")
	case kumo.ClausePrefix:
		if sys.Kind != kumo.IndexString {
			return "1 = 0"
		}
		return b.prefixPred(col, c.Prefix)
	}
	switch len(parts) {
	case 0:
		return "1 = 0" // a type or value the column never holds; geo clauses
	case 1:
		return parts[0]
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// maxColumnInt bounds the integers compared with integer columns: far
// beyond any time or version, and within int64.
const maxColumnInt = 9e18

func clampInt(f float64) float64 { return math.Max(-maxColumnInt, math.Min(maxColumnInt, f)) }

// intBound turns "column op f" on an integer column into an integer
// bound with the same meaning (x > 2.5 is x > 2; x >= 2.5 is x >= 3).
func intBound(f float64, op string) int64 {
	f = clampInt(f)
	switch op {
	case ">", "<=":
		return int64(math.Floor(f))
	}
	return int64(math.Ceil(f))
}

// pred is the test of a field clause on the index row alias t (true when
// the row's value passes; the row exists only when the field does).
func (b *builder) pred(c kumo.Clause, t string) string {
	kind := func(k kumo.IndexKind) string { return t + ".kind = '" + string(k) + "'" }
	switch c.Type {
	case kumo.ClauseEq:
		return b.valuePred(t, []kumo.IndexValue{c.Value})
	case kumo.ClauseIn:
		return b.valuePred(t, c.Values)
	case kumo.ClauseRange:
		k := c.Lower
		if k == nil {
			k = c.Upper
		}
		conds := []string{kind(k.Value.Kind)}
		col := t + ".num"
		if k.Value.Kind == kumo.IndexString {
			col = t + ".str"
			conds = append(conds, t+".num = 0") // strings have num 0: the value index serves str
		}
		for i, bd := range []*kumo.Bound{c.Lower, c.Upper} {
			if bd == nil {
				continue
			}
			op := [2]string{">", "<"}[i]
			if bd.Included {
				op += "="
			}
			var v any = bd.Value.Num
			if bd.Value.Kind == kumo.IndexString {
				v = bd.Value.Str
			}
			conds = append(conds, col+" "+op+" "+b.arg(v))
		}
		return strings.Join(conds, " AND ")
	case kumo.ClausePrefix:
		return kind(kumo.IndexString) + " AND " + t + ".num = 0 AND " + b.prefixPred(t+".str", c.Prefix)
	case kumo.ClauseHasField:
		switch c.FieldType {
		case "STRING":
			return kind(kumo.IndexString)
		case "INTEGER":
			return kind(kumo.IndexNumber) + " AND " + t + ".str = ''"
		case "DECIMAL":
			return kind(kumo.IndexNumber) + " AND " + t + ".str = '.'"
		}
		return kind(kumo.IndexBool)
	case kumo.ClauseGeoBox:
		return kind(kumo.IndexPoint) + " AND " + b.boxPred(t, c.Box)
	case kumo.ClauseGeoDistance:
		b.superset = true
		return kind(kumo.IndexPoint) + " AND " + b.boxPred(t, circleBox(c.Center, c.Radius))
	}
	return "1 = 0"
}

// valuePred is the test of eq (one value) and in (several): type-strict
// equality, numbers and booleans by num, strings by str.
func (b *builder) valuePred(t string, values []kumo.IndexValue) string {
	var parts []string
	for _, g := range []struct {
		kind kumo.IndexKind
		col  string
	}{{kumo.IndexNumber, "num"}, {kumo.IndexBool, "num"}, {kumo.IndexString, "str"}} {
		var params []string // in the order of the SQL text
		for _, v := range values {
			switch {
			case v.Kind != g.kind:
			case g.kind == kumo.IndexString:
				params = append(params, b.arg(v.Str))
			default:
				params = append(params, b.arg(v.Num))
			}
		}
		switch len(params) {
		case 0:
		case 1:
			parts = append(parts, t+".kind = '"+string(g.kind)+"' AND "+zeroNum(t, g.col)+t+"."+g.col+" = "+params[0])
		default:
			parts = append(parts, t+".kind = '"+string(g.kind)+"' AND "+zeroNum(t, g.col)+t+"."+g.col+" IN ("+strings.Join(params, ", ")+")")
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "((" + strings.Join(parts, ") OR (") + "))"
}

// zeroNum is the condition "num = 0" that conditions on the strings of
// alias t carry (every string has num 0), so that the value index
// (…, kind, num, str, …) serves the condition on str.
func zeroNum(t, col string) string {
	if col != "str" {
		return ""
	}
	return t + ".num = 0 AND "
}

// prefixPred selects the strings of col that start with p, as a range
// the value index serves: [p, p with its last character incremented).
func (b *builder) prefixPred(col, p string) string {
	if p == "" {
		return "1 = 1"
	}
	cond := col + " >= " + b.arg(p)
	if up, ok := prefixEnd(p); ok {
		cond += " AND " + col + " < " + b.arg(up)
	}
	return cond
}

// prefixEnd returns the least string greater than every string that
// starts with p (in byte order, which for UTF-8 is code-point order), if
// there is one.
func prefixEnd(p string) (string, bool) {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		switch {
		case r == utf8.MaxRune || r == utf8.RuneError && size <= 1:
			continue
		case r == 0xD7FF:
			return p + string(rune(0xE000)), true // skip the surrogates
		}
		return p + string(r+1), true
	}
	return "", false
}

// boxPred selects the points of alias t inside a box.
func (b *builder) boxPred(t string, box kumo.GeoBox) string {
	s := t + ".num >= " + b.arg(box.SW.Lat) + " AND " + t + ".num <= " + b.arg(box.NE.Lat)
	switch {
	case box.SW.Lon == -180 && box.NE.Lon == 180:
	case box.SW.Lon <= box.NE.Lon:
		s += " AND " + t + ".lon >= " + b.arg(box.SW.Lon) + " AND " + t + ".lon <= " + b.arg(box.NE.Lon)
	default: // across the antimeridian
		s += " AND (" + t + ".lon >= " + b.arg(box.SW.Lon) + " OR " + t + ".lon <= " + b.arg(box.NE.Lon) + ")"
	}
	return s
}

// circleBox returns a box that contains every point within radius metres
// of center (with a margin: the evaluator decides).
func circleBox(center kumo.GeoPoint, radius float64) kumo.GeoBox {
	const earth = 6371000.0
	dLat := radius/earth*180/math.Pi*1.01 + 1e-9
	box := kumo.GeoBox{
		SW: kumo.GeoPoint{Lat: math.Max(-90, center.Lat-dLat), Lon: -180},
		NE: kumo.GeoPoint{Lat: math.Min(90, center.Lat+dLat), Lon: 180},
	}
	maxLat := math.Max(math.Abs(box.SW.Lat), math.Abs(box.NE.Lat))
	if maxLat >= 89 {
		return box // near a pole: every longitude
	}
	dLon := dLat / math.Cos(maxLat*math.Pi/180)
	if dLon >= 180 {
		return box
	}
	box.SW.Lon, box.NE.Lon = center.Lon-dLon, center.Lon+dLon
	if box.SW.Lon < -180 {
		box.SW.Lon += 360
	}
	if box.NE.Lon > 180 {
		box.NE.Lon -= 360
	}
	return box
}
