package kumo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Query limits (rest-core §5.6, §6).
const (
	// MaxQueryLimit caps bestEffortLimit; it is also the default.
	MaxQueryLimit = 200
	// MaxInValues is the most values an "in" clause may list.
	MaxInValues = 200
	// MaxIndexedName is the longest field name (bytes) that is indexed.
	MaxIndexedName = 250
	// MaxIndexedString is the longest string value (bytes) that is indexed.
	MaxIndexedString = 190
	// MaxGeoRadius is the largest geodistance radius, in metres.
	MaxGeoRadius = 20_000_000
	// MaxClauses bounds the clauses of one query (every node counts), and
	// MaxClauseDepth their nesting: a query is compiled to one SQL
	// statement, which must stay within the databases' limits.
	MaxClauses     = 500
	MaxClauseDepth = 20
)

// ClauseType is the "type" of a query clause. The names are Kii's.
type ClauseType string

// Clause types.
const (
	ClauseAll         ClauseType = "all"
	ClauseEq          ClauseType = "eq"
	ClauseNot         ClauseType = "not"
	ClauseAnd         ClauseType = "and"
	ClauseOr          ClauseType = "or"
	ClauseRange       ClauseType = "range"
	ClauseIn          ClauseType = "in"
	ClausePrefix      ClauseType = "prefix"
	ClauseHasField    ClauseType = "hasField"
	ClauseGeoBox      ClauseType = "geobox"
	ClauseGeoDistance ClauseType = "geodistance"
	// ClauseContains is for thing queries only: a thing whose list field
	// (userOwners, groupOwners) holds the value.
	ClauseContains ClauseType = "contains"
)

// IndexKind is the type of an indexed field value. The byte values order
// values of different types: booleans, then numbers, then points, then
// strings.
type IndexKind byte

// Index kinds.
const (
	IndexBool   IndexKind = 'b'
	IndexNumber IndexKind = 'n'
	IndexPoint  IndexKind = 'p'
	IndexString IndexKind = 's'
)

// Number forms, in IndexValue.Str of a number.
const (
	IntegerForm = ""  // written without fraction or exponent (30)
	DecimalForm = "." // written with a fraction or an exponent (30.0, 3e1)
)

// IndexValue is a top-level field value as the query index holds it, and
// a value in a clause. Numbers are compared as float64: 30 and 30.0 are
// equal (integers beyond 2^53 lose precision, as in a double).
type IndexValue struct {
	Kind IndexKind
	Num  float64 // a number; a boolean as 0 or 1; a point's latitude
	Str  string  // a string; for a number, IntegerForm or DecimalForm
	Lon  float64 // a point's longitude
}

// Compare orders index values: by kind, then Num, then Str (the order of
// results sorted on a field, before the object ID breaks ties).
func (a IndexValue) Compare(b IndexValue) int {
	switch {
	case a.Kind != b.Kind:
		return cmpOrdered(a.Kind, b.Kind)
	case a.Num != b.Num:
		return cmpOrdered(a.Num, b.Num)
	}
	return strings.Compare(a.Str, b.Str)
}

func cmpOrdered[T int | int64 | float64 | IndexKind](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// IndexEntry is one indexed top-level field of an object.
type IndexEntry struct {
	Field string
	IndexValue
}

// IndexEntries returns the indexed top-level fields of an object's data,
// sorted by name. Indexed are strings of at most MaxIndexedString bytes
// (without NUL), numbers, booleans and geo points
// ({"_type":"point","lat","lon"}), in fields whose name has at most
// MaxIndexedName bytes. Other values (null, arrays, other objects, longer
// strings) are stored but not queryable: a clause on them matches nothing.
func IndexEntries(data map[string]any) []IndexEntry {
	out := make([]IndexEntry, 0, len(data))
	for k, v := range data {
		if len(k) > MaxIndexedName || systemFields[k] {
			continue
		}
		if iv, ok := indexValue(v); ok {
			out = append(out, IndexEntry{Field: k, IndexValue: iv})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// indexValue returns the index form of a JSON value, if it is indexed.
func indexValue(v any) (IndexValue, bool) {
	switch x := v.(type) {
	case string:
		if len(x) > MaxIndexedString || strings.IndexByte(x, 0) >= 0 {
			return IndexValue{}, false
		}
		return IndexValue{Kind: IndexString, Str: x}, true
	case bool:
		if x {
			return IndexValue{Kind: IndexBool, Num: 1}, true
		}
		return IndexValue{Kind: IndexBool}, true
	case map[string]any:
		if p, ok := pointOf(x); ok {
			return IndexValue{Kind: IndexPoint, Num: p.Lat, Lon: p.Lon}, true
		}
		return IndexValue{}, false
	}
	return numberValue(v)
}

// numberValue returns the index form of a number of any Go type that JSON
// numbers take (json.Number, float64, int, …).
func numberValue(v any) (IndexValue, bool) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = string(x)
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		b, err := json.Marshal(x)
		if err != nil {
			return IndexValue{}, false
		}
		text = string(b)
	default:
		return IndexValue{}, false
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return IndexValue{}, false
	}
	form := IntegerForm
	if strings.ContainsAny(text, ".eE") {
		form = DecimalForm
	}
	return IndexValue{Kind: IndexNumber, Num: f, Str: form}, true
}

// GeoPoint is a point on Earth, in degrees.
type GeoPoint struct{ Lat, Lon float64 }

// pointOf reads Kii's {"_type":"point","lat":…,"lon":…}.
func pointOf(m map[string]any) (GeoPoint, bool) {
	if t, _ := m["_type"].(string); t != "point" {
		return GeoPoint{}, false
	}
	lat, ok1 := numberValue(m["lat"])
	lon, ok2 := numberValue(m["lon"])
	if !ok1 || !ok2 || lat.Num < -90 || lat.Num > 90 || lon.Num < -180 || lon.Num > 180 {
		return GeoPoint{}, false
	}
	return GeoPoint{Lat: lat.Num, Lon: lon.Num}, true
}

// earthRadius is the mean Earth radius (metres) of geodistance.
const earthRadius = 6371000.0

// Distance returns the great-circle distance between two points in metres
// (haversine formula on a sphere of radius 6,371 km).
func Distance(a, b GeoPoint) float64 {
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadius * math.Asin(math.Sqrt(min(1, h)))
}

// SystemField describes a server-managed field usable in queries.
type SystemField struct {
	Kind IndexKind // IndexString or IndexNumber (integer)
}

// SystemFields are the system fields a clause or orderBy may name.
var SystemFields = map[string]SystemField{
	"_id": {IndexString}, "_owner": {IndexString},
	"_created": {IndexNumber}, "_modified": {IndexNumber}, "_version": {IndexNumber},
}

// FieldValue returns the indexed value of field name of o: a system field
// (_owner is absent for objects created by the admin or anonymously) or an
// indexed top-level field of o.Data.
func (o Object) FieldValue(name string) (IndexValue, bool) {
	switch name {
	case "_id":
		return IndexValue{Kind: IndexString, Str: o.ID}, true
	case "_owner":
		return IndexValue{Kind: IndexString, Str: o.Owner}, o.Owner != ""
	case "_created":
		return IndexValue{Kind: IndexNumber, Num: float64(o.Created)}, true
	case "_modified":
		return IndexValue{Kind: IndexNumber, Num: float64(o.Modified)}, true
	case "_version":
		return IndexValue{Kind: IndexNumber, Num: float64(o.Version)}, true
	}
	v, ok := o.Data[name]
	if !ok || len(name) > MaxIndexedName || systemFields[name] {
		return IndexValue{}, false
	}
	return indexValue(v)
}

// Bound is one end of a range clause.
type Bound struct {
	Value    IndexValue // a number or a string
	Included bool
}

// GeoBox is a rectangle from its south-west to its north-east corner. A
// box whose west longitude is greater than its east one crosses the
// antimeridian.
type GeoBox struct{ NE, SW GeoPoint }

// Clause is a query condition (rest-core §6.2).
type Clause struct {
	Type    ClauseType
	Field   string       // every type but all, not, and, or
	Value   IndexValue   // eq
	Values  []IndexValue // in
	Clauses []Clause     // and, or; not has one
	Lower   *Bound       // range
	Upper   *Bound       // range
	Prefix  string       // prefix
	// FieldType is hasField's STRING, INTEGER, DECIMAL or BOOLEAN.
	FieldType string
	Box       GeoBox   // geobox
	Center    GeoPoint // geodistance
	Radius    float64  // geodistance, metres
	// DistanceInto is geodistance's putDistanceInto: the name under which
	// results carry their distance from Center in "_calculated".
	DistanceInto string
}

// Aggregation is a bucketQuery aggregation. Only COUNT exists.
type Aggregation struct {
	Type string // "COUNT"
	Into string // putAggregationInto
}

// Query is a parsed query request.
type Query struct {
	Clause     Clause
	OrderBy    string // a field, a system field or "_calculated.{name}"; "" for none
	Descending bool   // only with OrderBy
	Limit      int    // bestEffortLimit, 1 to MaxQueryLimit
	// PaginationKey is the nextPaginationKey of the previous page ("" for
	// the first page). Its content is the store's business.
	PaginationKey string
	Aggregations  []Aggregation
}

// Count returns the name of the query's COUNT aggregation, if it has one.
func (q Query) Count() (string, bool) {
	for _, a := range q.Aggregations {
		if a.Type == "COUNT" {
			return a.Into, true
		}
	}
	return "", false
}

// QueryHit is one object of a query's results, with the distances its
// geodistance clauses computed (by putDistanceInto name; nil when none).
type QueryHit struct {
	Object     Object
	Calculated map[string]float64
}

// QueryResult is one page of a query's results, or its aggregations.
type QueryResult struct {
	Results []QueryHit
	// NextPaginationKey is set when more results may follow.
	NextPaginationKey string
	// Aggregations holds the count when the query asked for one (its
	// name → the number of matching objects); Results is empty then.
	Aggregations map[string]int64
}

// --- Parsing ---------------------------------------------------------------

var distanceName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// invalidQuery is the INVALID_INPUT_DATA of a malformed query.
func invalidQuery(format string, args ...any) *Error {
	return Errorf(ErrInvalidInputData, "Invalid query: "+format, args...)
}

// unsupportedQuery is the QUERY_NOT_SUPPORTED of a well-formed query that
// Kii (or Kumo) does not run.
func unsupportedQuery(format string, args ...any) *Error {
	return Errorf(ErrQueryNotSupported, format, args...)
}

// ParseQuery parses a QueryRequest body:
//
//	{"bucketQuery":{"clause":{…},"orderBy":"f","descending":false,
//	  "aggregations":[{"type":"COUNT","putAggregationInto":"n"}]},
//	 "bestEffortLimit":10,"paginationKey":"…"}
//
// An absent bucketQuery or clause means "all". bestEffortLimit may be a
// number or a string holding one ("10"); it defaults to, and is capped at,
// MaxQueryLimit. Errors are INVALID_JSON, INVALID_INPUT_DATA (a malformed
// clause, an empty paginationKey) and QUERY_NOT_SUPPORTED (a count with a
// paginationKey, a query too large, a descending distance order).
func ParseQuery(raw []byte) (Query, error) { return parseQuery(raw, "bucketQuery") }

// ParseThingQuery parses a ThingQueryRequest body, which is a QueryRequest
// with "thingQuery" in place of "bucketQuery" and with contains clauses
// (on userOwners and groupOwners) allowed.
func ParseThingQuery(raw []byte) (Query, error) { return parseQuery(raw, "thingQuery") }

// ParseUserQuery parses a UserQueryRequest body: a QueryRequest with
// "userQuery" in place of "bucketQuery".
func ParseUserQuery(raw []byte) (Query, error) { return parseQuery(raw, "userQuery") }

// parseQuery parses a query body whose query object is under key.
func parseQuery(raw []byte, key string) (Query, error) {
	q := Query{Clause: Clause{Type: ClauseAll}, Limit: MaxQueryLimit}
	if len(bytes.TrimSpace(raw)) == 0 {
		return q, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var body map[string]any
	if err := d.Decode(&body); err != nil || body == nil || d.More() {
		return q, Errorf(ErrInvalidJSON, "The request body must be a JSON object")
	}
	if v, ok := body["bestEffortLimit"]; ok && v != nil {
		n, err := parseLimit(v)
		if err != nil {
			return q, err
		}
		q.Limit = min(n, MaxQueryLimit)
	}
	if v, ok := body["paginationKey"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return q, invalidQuery("paginationKey must be a string")
		}
		if s == "" {
			// Kumo never issues "" (the last page has no key). Clients that
			// read an absent nextPaginationKey as "" and send it back
			// (org.json's optString) stop only on an error: answering the
			// first page again made them loop forever.
			return q, invalidQuery("paginationKey %q was not issued by this server; omit it for the first page", s)
		}
		q.PaginationKey = s
	}
	if v, ok := body[key]; ok && v != nil {
		bq, ok := v.(map[string]any)
		if !ok {
			return q, invalidQuery("%s must be an object", key)
		}
		if err := parseBucketQuery(bq, &q, key == "thingQuery"); err != nil {
			return q, err
		}
	}
	if _, ok := q.Count(); ok && q.PaginationKey != "" {
		return q, unsupportedQuery("A count query cannot have a paginationKey")
	}
	return q, nil
}

func parseLimit(v any) (int, error) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = string(x)
	case string:
		text = strings.TrimSpace(x)
	default:
		return 0, invalidQuery("bestEffortLimit must be a number")
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, invalidQuery("bestEffortLimit must be an integer, got %q", text)
	}
	if n < 1 {
		return 0, invalidQuery("bestEffortLimit must be at least 1, got %d", n)
	}
	return int(min(n, MaxQueryLimit)), nil
}

func parseBucketQuery(bq map[string]any, q *Query, things bool) error {
	if v, ok := bq["clause"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return invalidQuery("clause must be an object")
		}
		n := 0
		c, err := parseClause(m, 1, &clauseParse{n: &n, things: things})
		if err != nil {
			return err
		}
		q.Clause = c
	}
	if v, ok := bq["orderBy"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return invalidQuery("orderBy must be a string")
		}
		q.OrderBy = s
	}
	if v, ok := bq["descending"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return invalidQuery("descending must be a boolean")
		}
		q.Descending = b && q.OrderBy != ""
	}
	if name, ok := strings.CutPrefix(q.OrderBy, "_calculated."); ok {
		if q.Clause.distanceClause(name) == nil {
			return invalidQuery("orderBy %q names no geodistance clause's putDistanceInto", q.OrderBy)
		}
		if q.Descending {
			return unsupportedQuery("Results ordered by a calculated distance are in ascending order only")
		}
	}
	if v, ok := bq["aggregations"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return invalidQuery("aggregations must be an array")
		}
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return invalidQuery("an aggregation must be an object")
			}
			t, _ := m["type"].(string)
			into, _ := m["putAggregationInto"].(string)
			if t != "COUNT" {
				return unsupportedQuery("Aggregation type %q is not supported (COUNT is)", t)
			}
			if into == "" {
				return invalidQuery("an aggregation needs putAggregationInto")
			}
			q.Aggregations = append(q.Aggregations, Aggregation{Type: t, Into: into})
		}
		if len(q.Aggregations) > 1 {
			return unsupportedQuery("One aggregation per query is supported")
		}
	}
	return nil
}

// distanceClause returns the geodistance clause of c (or below it) whose
// putDistanceInto is name.
func (c *Clause) distanceClause(name string) *Clause {
	if c.Type == ClauseGeoDistance && c.DistanceInto == name {
		return c
	}
	for i := range c.Clauses {
		if d := c.Clauses[i].distanceClause(name); d != nil {
			return d
		}
	}
	return nil
}

// clauseParse is the state of parsing one query's clauses.
type clauseParse struct {
	n      *int // clauses so far
	things bool // a thing query: contains is allowed
}

func parseClause(m map[string]any, depth int, p *clauseParse) (Clause, error) {
	n := p.n
	*n++
	if *n > MaxClauses || depth > MaxClauseDepth {
		return Clause{}, unsupportedQuery("The query is too complex: at most %d clauses nested %d deep", MaxClauses, MaxClauseDepth)
	}
	t, _ := m["type"].(string)
	c := Clause{Type: ClauseType(t)}
	field := func() error {
		f, ok := m["field"].(string)
		if !ok || f == "" {
			return invalidQuery("a %s clause needs a field", t)
		}
		c.Field = f
		return nil
	}
	switch c.Type {
	case ClauseAll:
	case ClauseEq:
		if err := field(); err != nil {
			return c, err
		}
		v, err := scalar(m["value"], "eq value")
		if err != nil {
			return c, err
		}
		c.Value = v
	case ClauseNot:
		sub, ok := m["clause"].(map[string]any)
		if !ok {
			return c, invalidQuery("a not clause needs a clause")
		}
		s, err := parseClause(sub, depth+1, p)
		if err != nil {
			return c, err
		}
		c.Clauses = []Clause{s}
	case ClauseAnd, ClauseOr:
		list, ok := m["clauses"].([]any)
		if !ok || len(list) == 0 {
			return c, invalidQuery("an %s clause needs a non-empty clauses array", t)
		}
		for _, e := range list {
			sub, ok := e.(map[string]any)
			if !ok {
				return c, invalidQuery("the clauses of %s must be objects", t)
			}
			s, err := parseClause(sub, depth+1, p)
			if err != nil {
				return c, err
			}
			c.Clauses = append(c.Clauses, s)
		}
	case ClauseRange:
		if err := field(); err != nil {
			return c, err
		}
		var err error
		if c.Lower, err = bound(m, "lowerLimit", "lowerIncluded"); err != nil {
			return c, err
		}
		if c.Upper, err = bound(m, "upperLimit", "upperIncluded"); err != nil {
			return c, err
		}
		if c.Lower == nil && c.Upper == nil {
			return c, invalidQuery("a range clause needs lowerLimit or upperLimit")
		}
		if c.Lower != nil && c.Upper != nil && c.Lower.Value.Kind != c.Upper.Value.Kind {
			return c, invalidQuery("the limits of a range must both be numbers or both strings")
		}
	case ClauseIn:
		if err := field(); err != nil {
			return c, err
		}
		list, ok := m["values"].([]any)
		if !ok || len(list) == 0 {
			return c, invalidQuery("an in clause needs a non-empty values array")
		}
		if len(list) > MaxInValues {
			return c, invalidQuery("an in clause takes at most %d values, got %d", MaxInValues, len(list))
		}
		for _, e := range list {
			v, err := scalar(e, "in value")
			if err != nil {
				return c, err
			}
			c.Values = append(c.Values, v)
		}
	case ClausePrefix:
		if err := field(); err != nil {
			return c, err
		}
		p, ok := m["prefix"].(string)
		if !ok {
			return c, invalidQuery("a prefix clause needs a string prefix")
		}
		c.Prefix = p
	case ClauseHasField:
		if err := field(); err != nil {
			return c, err
		}
		ft, _ := m["fieldType"].(string)
		switch ft {
		case "STRING", "INTEGER", "DECIMAL", "BOOLEAN":
			c.FieldType = ft
		default:
			return c, invalidQuery("hasField's fieldType must be STRING, INTEGER, DECIMAL or BOOLEAN, got %q", ft)
		}
	case ClauseGeoBox:
		if err := field(); err != nil {
			return c, err
		}
		box, ok := m["box"].(map[string]any)
		if !ok {
			return c, invalidQuery("a geobox clause needs a box")
		}
		var err error
		if c.Box.NE, err = point(box["ne"], "box.ne"); err != nil {
			return c, err
		}
		if c.Box.SW, err = point(box["sw"], "box.sw"); err != nil {
			return c, err
		}
		if c.Box.SW.Lat > c.Box.NE.Lat {
			return c, invalidQuery("the box's south-west latitude is north of its north-east one")
		}
	case ClauseGeoDistance:
		if err := field(); err != nil {
			return c, err
		}
		var err error
		if c.Center, err = point(m["center"], "center"); err != nil {
			return c, err
		}
		r, ok := numberValue(m["radius"])
		if !ok || r.Num <= 0 || r.Num > MaxGeoRadius {
			return c, invalidQuery("a geodistance radius must be a number of metres in (0, %d]", MaxGeoRadius)
		}
		c.Radius = r.Num
		into, ok := m["putDistanceInto"].(string)
		if !ok {
			into, ok = m["calculatedDistance"].(string) // kii-rest-client4j's name
		}
		if ok {
			if !distanceName.MatchString(into) {
				return c, invalidQuery("putDistanceInto must match ^[a-zA-Z_][a-zA-Z0-9_]*$, got %q", into)
			}
			c.DistanceInto = into
		}
	case ClauseContains:
		if !p.things {
			return c, unsupportedQuery("The contains clause is for thing queries only")
		}
		if err := field(); err != nil {
			return c, err
		}
		v, ok := m["value"].(string)
		if !ok {
			return c, invalidQuery("a contains clause needs a string value")
		}
		c.Value = IndexValue{Kind: IndexString, Str: v}
	default:
		return c, invalidQuery("unknown clause type %q", t)
	}
	return c, nil
}

// scalar parses a clause value: a string, a number or a boolean.
func scalar(v any, what string) (IndexValue, error) {
	switch x := v.(type) {
	case string:
		return IndexValue{Kind: IndexString, Str: x}, nil
	case bool:
		iv, _ := indexValue(x)
		return iv, nil
	}
	if iv, ok := numberValue(v); ok {
		return iv, nil
	}
	return IndexValue{}, invalidQuery("%s must be a string, a number or a boolean", what)
}

func bound(m map[string]any, limit, included string) (*Bound, error) {
	v, ok := m[limit]
	if !ok || v == nil {
		return nil, nil
	}
	iv, err := scalar(v, limit)
	if err != nil || iv.Kind == IndexBool {
		return nil, invalidQuery("%s must be a number or a string", limit)
	}
	b := &Bound{Value: iv, Included: true}
	if inc, ok := m[included]; ok && inc != nil {
		bv, ok := inc.(bool)
		if !ok {
			return nil, invalidQuery("%s must be a boolean", included)
		}
		b.Included = bv
	}
	return b, nil
}

func point(v any, what string) (GeoPoint, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return GeoPoint{}, invalidQuery("%s must be a point {\"_type\":\"point\",\"lat\",\"lon\"}", what)
	}
	if _, ok := m["_type"]; !ok { // some clients leave _type out
		m = map[string]any{"_type": "point", "lat": m["lat"], "lon": m["lon"]}
	}
	p, ok := pointOf(m)
	if !ok {
		return GeoPoint{}, invalidQuery("%s must be a point with lat in [-90, 90] and lon in [-180, 180]", what)
	}
	return p, nil
}

// --- The reference evaluator ----------------------------------------------

// truth is a three-valued truth: a clause on a field the object lacks (or
// whose value is not indexed) is unknown, and so is its negation.
type truth int8

const (
	isFalse truth = iota
	isUnknown
	isTrue
)

// Matches reports whether o matches c. This is the meaning of a query,
// which the SQL compilation must reproduce:
//
//   - A clause on a field (eq, range, in, prefix, geobox, geodistance) is
//     unknown when o lacks the field or its value is not indexed (see
//     IndexEntries); else true or false. not turns true into false and
//     back and leaves unknown; and/or follow Kleene's logic. o matches
//     when the clause is true. So not(eq) never matches an object
//     lacking the field.
//   - hasField is true or false, never unknown.
//   - eq and in are type-strict: 30 ≠ "30", 1 ≠ true; numbers compare as
//     numbers (30 = 30.0).
//   - range compares numbers with numbers, strings with strings (bytewise);
//     a value of another type is outside every range.
//   - prefix matches strings only.
func (c Clause) Matches(o Object) bool { return c.eval(o) == isTrue }

func (c Clause) eval(o Object) truth {
	switch c.Type {
	case ClauseAll:
		return isTrue
	case ClauseNot:
		return isTrue - c.Clauses[0].eval(o) // true ↔ false, unknown stays
	case ClauseAnd:
		t := isTrue
		for _, s := range c.Clauses {
			t = min(t, s.eval(o))
		}
		return t
	case ClauseOr:
		t := isFalse
		for _, s := range c.Clauses {
			t = max(t, s.eval(o))
		}
		return t
	case ClauseHasField:
		v, ok := o.FieldValue(c.Field)
		return truthOf(ok && c.hasType(v))
	case ClauseContains:
		list, _ := o.Data[c.Field].([]string)
		return truthOf(slices.Contains(list, c.Value.Str))
	}
	v, ok := o.FieldValue(c.Field)
	if !ok {
		return isUnknown
	}
	return truthOf(c.test(v))
}

func truthOf(b bool) truth {
	if b {
		return isTrue
	}
	return isFalse
}

// hasType is hasField's test.
func (c Clause) hasType(v IndexValue) bool {
	switch c.FieldType {
	case "STRING":
		return v.Kind == IndexString
	case "INTEGER":
		return v.Kind == IndexNumber && v.Str == IntegerForm
	case "DECIMAL":
		return v.Kind == IndexNumber && v.Str == DecimalForm
	case "BOOLEAN":
		return v.Kind == IndexBool
	}
	return false
}

// Equal reports whether a field value equals a clause value (eq, in).
func (a IndexValue) Equal(b IndexValue) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case IndexString:
		return a.Str == b.Str
	case IndexNumber, IndexBool:
		return a.Num == b.Num
	}
	return false
}

// test applies a field clause to a field's indexed value.
func (c Clause) test(v IndexValue) bool {
	switch c.Type {
	case ClauseEq:
		return v.Equal(c.Value)
	case ClauseIn:
		for _, w := range c.Values {
			if v.Equal(w) {
				return true
			}
		}
		return false
	case ClauseRange:
		return inBound(v, c.Lower, 1) && inBound(v, c.Upper, -1)
	case ClausePrefix:
		return v.Kind == IndexString && strings.HasPrefix(v.Str, c.Prefix)
	case ClauseGeoBox:
		return v.Kind == IndexPoint && c.Box.Contains(GeoPoint{v.Num, v.Lon})
	case ClauseGeoDistance:
		return v.Kind == IndexPoint && Distance(c.Center, GeoPoint{v.Num, v.Lon}) <= c.Radius
	}
	return false
}

// inBound reports whether v is on the inner side of b: above a lower
// bound (side 1) or below an upper one (side -1). No bound: true.
func inBound(v IndexValue, b *Bound, side int) bool {
	if b == nil {
		return true
	}
	var cmp int
	switch {
	case v.Kind != b.Value.Kind:
		return false
	case v.Kind == IndexNumber:
		cmp = cmpOrdered(v.Num, b.Value.Num)
	case v.Kind == IndexString:
		cmp = strings.Compare(v.Str, b.Value.Str)
	default:
		return false
	}
	return cmp == side || cmp == 0 && b.Included
}

// Contains reports whether p is inside the box (edges included).
func (b GeoBox) Contains(p GeoPoint) bool {
	if p.Lat < b.SW.Lat || p.Lat > b.NE.Lat {
		return false
	}
	if b.SW.Lon <= b.NE.Lon {
		return p.Lon >= b.SW.Lon && p.Lon <= b.NE.Lon
	}
	return p.Lon >= b.SW.Lon || p.Lon <= b.NE.Lon // across the antimeridian
}

// Distances returns the distances of o from the centres of c's
// geodistance clauses that have a putDistanceInto, by that name, for the
// fields of o that hold points (nil when none).
func (c Clause) Distances(o Object) map[string]float64 {
	var out map[string]float64
	c.walk(func(d Clause) {
		if d.Type != ClauseGeoDistance || d.DistanceInto == "" {
			return
		}
		if v, ok := o.FieldValue(d.Field); ok && v.Kind == IndexPoint {
			if out == nil {
				out = map[string]float64{}
			}
			out[d.DistanceInto] = Distance(d.Center, GeoPoint{v.Num, v.Lon})
		}
	})
	return out
}

// walk calls fn on c and every clause below it.
func (c Clause) walk(fn func(Clause)) {
	fn(c)
	for _, s := range c.Clauses {
		s.walk(fn)
	}
}

// HasGeoDistance reports whether c has a geodistance clause.
func (c Clause) HasGeoDistance() bool {
	found := false
	c.walk(func(d Clause) { found = found || d.Type == ClauseGeoDistance })
	return found
}

// OrderValue returns o's value for q's order: its orderBy field, or the
// distance named by "_calculated.{name}". Objects without one are not in
// the results of an ordered query.
func (q Query) OrderValue(o Object) (IndexValue, bool) {
	if name, ok := strings.CutPrefix(q.OrderBy, "_calculated."); ok {
		d, ok := q.Clause.Distances(o)[name]
		return IndexValue{Kind: IndexNumber, Num: d}, ok
	}
	return o.FieldValue(q.OrderBy)
}

// Selects reports whether o is in q's results: it matches the clause and,
// when q is ordered, has a value to be ordered by.
func (q Query) Selects(o Object) bool {
	if !q.Clause.Matches(o) {
		return false
	}
	if q.OrderBy != "" {
		_, ok := q.OrderValue(o)
		return ok
	}
	return true
}

// Compare is the order of q's results: by the order value (IndexValue's
// Compare: kind, then number or string) and then by object ID, reversed
// when Descending. Without orderBy Kii leaves the order unspecified; Kumo
// orders by object ID.
func (q Query) Compare(a, b Object) int {
	c := 0
	if q.OrderBy != "" {
		va, _ := q.OrderValue(a)
		vb, _ := q.OrderValue(b)
		c = va.Compare(vb)
	}
	if c == 0 {
		c = strings.Compare(a.ID, b.ID)
	}
	if q.Descending {
		return -c
	}
	return c
}

// --- Description ------------------------------------------------------------

// Description renders q as Kii's SQL-like queryDescription ("WHERE ( 1 = 1
// )" for all). Clients ignore its content.
func (q Query) Description() string {
	var b strings.Builder
	b.WriteString("WHERE ")
	q.Clause.describe(&b)
	if q.OrderBy != "" {
		b.WriteString(" ORDER BY " + q.OrderBy)
		if q.Descending {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
	}
	return b.String()
}

func (c Clause) describe(b *strings.Builder) {
	b.WriteString("( ")
	switch c.Type {
	case ClauseAll:
		b.WriteString("1 = 1")
	case ClauseNot:
		b.WriteString("NOT ")
		c.Clauses[0].describe(b)
	case ClauseAnd, ClauseOr:
		for i, s := range c.Clauses {
			if i > 0 {
				b.WriteString(" " + strings.ToUpper(string(c.Type)) + " ")
			}
			s.describe(b)
		}
	case ClauseEq:
		fmt.Fprintf(b, "%s = %s", c.Field, c.Value.describe())
	case ClauseIn:
		parts := make([]string, len(c.Values))
		for i, v := range c.Values {
			parts[i] = v.describe()
		}
		fmt.Fprintf(b, "%s IN ( %s )", c.Field, strings.Join(parts, ", "))
	case ClauseRange:
		var parts []string
		if c.Lower != nil {
			op := ">"
			if c.Lower.Included {
				op = ">="
			}
			parts = append(parts, fmt.Sprintf("%s %s %s", c.Field, op, c.Lower.Value.describe()))
		}
		if c.Upper != nil {
			op := "<"
			if c.Upper.Included {
				op = "<="
			}
			parts = append(parts, fmt.Sprintf("%s %s %s", c.Field, op, c.Upper.Value.describe()))
		}
		b.WriteString(strings.Join(parts, " AND "))
	case ClausePrefix:
		fmt.Fprintf(b, "%s STARTS WITH %s", c.Field, quoteSQL(c.Prefix))
	case ClauseHasField:
		fmt.Fprintf(b, "%s IS %s", c.Field, c.FieldType)
	case ClauseGeoBox:
		fmt.Fprintf(b, "%s WITHIN BOX ( %g, %g, %g, %g )", c.Field, c.Box.SW.Lat, c.Box.SW.Lon, c.Box.NE.Lat, c.Box.NE.Lon)
	case ClauseGeoDistance:
		fmt.Fprintf(b, "%s WITHIN %g METRES OF ( %g, %g )", c.Field, c.Radius, c.Center.Lat, c.Center.Lon)
	}
	b.WriteString(" )")
}

func (v IndexValue) describe() string {
	switch v.Kind {
	case IndexString:
		return quoteSQL(v.Str)
	case IndexBool:
		return strconv.FormatBool(v.Num != 0)
	}
	return strconv.FormatFloat(v.Num, 'f', -1, 64)
}

func quoteSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
