// Package sqltable holds the rule for the name of the table a SQL store
// keeps its sessions in. pgstore and mysqlstore apply it, each with its
// own database's limit on the length (see their ValidTable); a SQL store
// written outside this repository may apply it too.
//
// The stores build their statements from the table name. A name that
// passes ValidName needs no escaping inside the quotes around it (double
// quotes or backticks), so it can neither end nor change a statement, and
// it names the same table on servers that compare names case-sensitively
// and on those that do not.
package sqltable

// ValidName reports whether name is 1 to maxLen characters, a lower-case
// ASCII letter or '_' first, then lower-case letters, digits and '_'.
func ValidName(name string, maxLen int) bool {
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
