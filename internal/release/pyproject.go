package release

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// pyproject is what a wheel's metadata needs from a pyproject.toml: its
// [project] table's strings and string arrays, [project.urls] and each
// [project.entry-points.GROUP] table, keyed "TABLE.KEY".
type pyproject map[string][]string

// parsePyproject reads the part of TOML that pyproject.toml files such as
// python/pytest-vendorimg's use: [tables], comments, key = "string" or
// 'string', and arrays of strings, also over several lines. A value of
// another kind (an inline table, a number, a multi-line string) is an
// error naming its line when it is in a [project...] table, whose values
// go into the metadata, and skipped elsewhere ([build-system], [tool.*]).
// Go has no TOML parser in its standard library, and the release must
// not add a dependency for one file.
func parsePyproject(data []byte) (pyproject, error) {
	out := pyproject{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(stripComment(sc.Text()))
		if text == "" {
			continue
		}
		if strings.HasPrefix(text, "[") {
			if !strings.HasSuffix(text, "]") || strings.HasPrefix(text, "[[") {
				return nil, fmt.Errorf("pyproject.toml:%d: unsupported table header %q", line, text)
			}
			table = strings.TrimSpace(text[1 : len(text)-1])
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("pyproject.toml:%d: want key = value, got %q", line, text)
		}
		key, value = strings.Trim(strings.TrimSpace(key), `"`), strings.TrimSpace(value)
		start := line
		// An array may go on over several lines, up to its closing bracket.
		for strings.HasPrefix(value, "[") && !closed(value) && sc.Scan() {
			line++
			value += " " + strings.TrimSpace(stripComment(sc.Text()))
		}
		values, err := parseValue(value)
		if err != nil {
			if table == "project" || strings.HasPrefix(table, "project.") {
				return nil, fmt.Errorf("pyproject.toml:%d: %s.%s: %w", start, table, key, err)
			}
			continue
		}
		out[table+"."+key] = values
	}
	return out, sc.Err()
}

// one is the single string of key, or "".
func (p pyproject) one(key string) string {
	if v := p[key]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// table is the keys and values of the string entries of table, in the
// order of their keys.
func (p pyproject) table(table string) [][2]string {
	var out [][2]string
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, table+"."); ok && !strings.Contains(rest, ".") && len(v) == 1 {
			out = append(out, [2]string{rest, v[0]})
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// parseValue reads a string or an array of strings.
func parseValue(v string) ([]string, error) {
	if !strings.HasPrefix(v, "[") {
		s, rest, err := parseString(v)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(rest) != "" {
			return nil, fmt.Errorf("unexpected %q after a string", rest)
		}
		return []string{s}, nil
	}
	rest := strings.TrimSpace(v[1:])
	out := []string{}
	for {
		if strings.HasPrefix(rest, "]") {
			if strings.TrimSpace(rest[1:]) != "" {
				return nil, fmt.Errorf("unexpected %q after an array", rest[1:])
			}
			return out, nil
		}
		s, after, err := parseString(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		rest = strings.TrimSpace(after)
		if strings.HasPrefix(rest, ",") {
			rest = strings.TrimSpace(rest[1:])
		} else if !strings.HasPrefix(rest, "]") {
			return nil, fmt.Errorf("want , or ] in an array, got %q", rest)
		}
	}
}

// parseString reads a basic ("...") or literal ('...') string at the
// start of v and returns it and what follows.
func parseString(v string) (string, string, error) {
	switch {
	case strings.HasPrefix(v, `"""`) || strings.HasPrefix(v, "'''"):
		return "", "", fmt.Errorf("multi-line strings are not supported")
	case strings.HasPrefix(v, "'"):
		end := strings.Index(v[1:], "'")
		if end < 0 {
			return "", "", fmt.Errorf("unterminated string %s", v)
		}
		return v[1 : 1+end], v[2+end:], nil
	case strings.HasPrefix(v, `"`):
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '"':
				// TOML's basic strings escape as JSON's do, for what
				// a pyproject.toml holds.
				var s string
				if err := json.Unmarshal([]byte(v[:i+1]), &s); err != nil {
					return "", "", fmt.Errorf("string %s: %w", v[:i+1], err)
				}
				return s, v[i+1:], nil
			}
		}
		return "", "", fmt.Errorf("unterminated string %s", v)
	}
	return "", "", fmt.Errorf("want a string or an array of strings, got %q", v)
}

// closed reports whether an array's text has its closing bracket outside
// any string.
func closed(v string) bool {
	depth := 0
	return outsideStrings(v, func(c byte) bool {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
			return depth == 0
		}
		return false
	}) >= 0
}

// stripComment drops a # comment that is outside any string.
func stripComment(line string) string {
	if i := outsideStrings(line, func(c byte) bool { return c == '#' }); i >= 0 {
		return line[:i]
	}
	return line
}

// outsideStrings calls stop with each byte of s that is outside any
// quoted string ('...' or "...", with backslash escapes in the latter)
// and returns the index of the first for which it says true, or -1.
func outsideStrings(s string, stop func(c byte) bool) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\' && quote == '"':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case stop(c):
			return i
		}
	}
	return -1
}
