package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/kumo-iot/kumo"
)

// maxJSONBody bounds JSON request bodies other than objects.
const maxJSONBody = 1 << 20

// maxJSONDepth bounds the nesting of a JSON request body: objects and
// arrays within each other, the body itself counting as one. Kii's own
// requests and the objects of its SDKs' users are a few levels deep; a
// body nested thousands of levels deep only costs the server (decoding,
// storing, printing every response that contains it).
const maxJSONDepth = 64

// checkJSONDepth refuses JSON nested deeper than maxJSONDepth. It is a scan
// of the bytes that skips strings, run before any decoding; it does not
// validate the JSON, which the decoder does after.
func checkJSONDepth(b []byte) error {
	depth := 0
	var str jsonStrings
	for _, c := range b {
		if str.inString(c) {
			continue
		}
		switch c {
		case '{', '[':
			if depth++; depth > maxJSONDepth {
				return kumo.Errorf(kumo.ErrInvalidJSON, "The request body nests objects and arrays deeper than %d levels", maxJSONDepth).
					With("maxDepth", maxJSONDepth)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// jsonStrings follows a JSON text byte by byte to tell the bytes of its
// strings from the rest.
type jsonStrings struct{ in, escaped bool }

// inString reports whether c, the text's next byte, belongs to a string
// (its quotes included).
func (s *jsonStrings) inString(c byte) bool {
	if !s.in {
		s.in = c == '"'
		return s.in
	}
	switch {
	case s.escaped:
		s.escaped = false
	case c == '\\':
		s.escaped = true
	case c == '"':
		s.in = false
	}
	return true
}

// readJSON reads a JSON request body, up to limit bytes, and checks its
// depth (checkJSONDepth). Every JSON body the API reads goes through it.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	return b, checkJSONDepth(b)
}

// writeJSON writes v as JSON with status and media type. Bodies are
// pretty-printed the way Kii's servers print them ("key" : value, one field
// per line), which shell scripts written against Kii parse with sed.
func writeJSON(w http.ResponseWriter, status int, mediaType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, mediaType = http.StatusInternalServerError, "application/vnd.kii.UndefinedException+json"
		b = []byte(`{"errorCode":"UNDEFINED_ERROR","message":"An internal error occurred"}`)
	}
	b = kiiIndent(b)
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// maxIndentDepth is the deepest container kiiIndent lays out on lines of
// their own; deeper ones are printed on one line. Kii's own bodies are a
// few levels deep, so its layout is kept wherever a client can see it,
// while the output stays within a constant times the input (data stored
// before maxJSONDepth existed may be nested thousands of levels deep, and
// indentation growing with the depth made the output grow with its
// square).
const maxIndentDepth = 16

// kiiIndent re-indents compact JSON in the style of Jackson's default
// pretty printer, which Kii's servers use:
//
//	{
//	  "key" : "value",
//	  "list" : [ 1, 2 ]
//	}
//
// An object nested deeper than maxIndentDepth is printed on one line, as
// arrays are: { "key" : "value", "n" : 1 }.
func kiiIndent(src []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(src) + len(src)/2 + 16)
	var stack []byte
	// newline starts a line indented for depth, unless the container at
	// depth in is printed on one line (a space then, as in arrays).
	newline := func(in, depth int) {
		if in > maxIndentDepth {
			out.WriteByte(' ')
			return
		}
		out.WriteByte('\n')
		for range depth {
			out.WriteString("  ")
		}
	}
	var str jsonStrings
	for i := 0; i < len(src); i++ {
		c := src[i]
		if str.inString(c) {
			out.WriteByte(c)
			continue
		}
		switch c {
		case '{', '[':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				out.WriteByte(c)
				out.WriteByte(' ')
				out.WriteByte(src[i+1])
				i++
				continue
			}
			stack = append(stack, c)
			out.WriteByte(c)
			if c == '{' {
				newline(len(stack), len(stack))
			} else {
				out.WriteByte(' ')
			}
		case '}', ']':
			depth := len(stack)
			open := stack[depth-1]
			stack = stack[:depth-1]
			if open == '{' {
				newline(depth, depth-1)
			} else {
				out.WriteByte(' ')
			}
			out.WriteByte(c)
		case ',':
			out.WriteByte(',')
			if stack[len(stack)-1] == '{' {
				newline(len(stack), len(stack))
			} else {
				out.WriteByte(' ')
			}
		case ':':
			out.WriteString(" : ")
		default:
			out.WriteByte(c)
		}
	}
	return out.Bytes()
}

// mediaType returns the request's media type, lower-cased and without
// parameters ("" when absent or unparsable).
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

// isKiiType reports whether the request's media type is
// application/vnd.kii.{name}+json, ignoring case.
func isKiiType(r *http.Request, name string) bool {
	return mediaType(r) == "application/vnd.kii."+strings.ToLower(name)+"+json"
}

// readBody reads the whole request body, up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, kumo.Errorf(kumo.ErrBodyTooLarge, "The request body is larger than %d bytes", limit)
	}
	var e *kumo.Error
	if errors.As(err, &e) {
		return nil, e // a body cut short or too slow (serveHTTP's bodyReader)
	}
	if err != nil {
		return nil, kumo.Errorf(kumo.ErrInvalidInputData, "The request body could not be read")
	}
	return b, nil
}

// decodeObject reads a JSON object body. Whatever the Content-Type says, a
// JSON body is parsed as JSON (curl users often leave the form type curl
// sets). An empty body is an empty object. Numbers keep their exact text.
func decodeObject(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	b, err := readJSON(w, r, maxJSONBody)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil || d.More() {
		return nil, kumo.Errorf(kumo.ErrInvalidJSON, "The request body must be a JSON object")
	}
	return m, nil
}

// stringField returns m[k] when it is a string.
func stringField(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// queryLimit reads the ?limit= of a listing: a positive integer, or 0 when
// absent (the listing's default).
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, kumo.InvalidInput(map[string]string{"limit": "must be a positive integer"})
	}
	return n, nil
}
