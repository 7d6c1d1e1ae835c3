module github.com/sesame-go/sesame/store/memcachestore

go 1.26.0

require github.com/sesame-go/sesame v0.1.0

require (
	github.com/bradfitz/gomemcache v0.0.0-20260422231931-4d751bb6e37c
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
