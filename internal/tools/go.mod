module github.com/sesame-go/sesame/internal/tools

go 1.26.0

require golang.org/x/mod v0.43.0
