// Package sqlname holds the rule the SQL stores apply to the table names
// they build statements from.
package sqlname

// Valid reports whether name is 1 to maxLen characters, a lower-case ASCII
// letter or '_' first, then lower-case letters, digits and '_': a name that
// needs no quoting rules and means the same on case-sensitive and
// case-insensitive servers.
func Valid(name string, maxLen int) bool {
	if len(name) == 0 || len(name) > maxLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', c == '_':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
