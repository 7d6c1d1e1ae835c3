// Package sesame provides web sessions for net/http.
package sesame
