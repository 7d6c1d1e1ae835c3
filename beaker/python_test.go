package beaker

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/store/storetest"
)

// The interop tests run real Beaker (Debian's python3-beaker, with
// python3-pycryptodome and python3-cryptography) through
// testdata/beaker_driver.py. They look for a python3 that imports all
// three: $SESAME_PYTHON if set, else python3 on PATH, else
// /usr/bin/python3 (Debian's, when PATH starts with another one). They
// skip when there is none, unless SESAME_REQUIRE_SERVERS=1, when they
// fail.

const beakerHint = "install the Debian packages python3-beaker python3-pycryptodome python3-cryptography " +
	"(bash .ci/services.sh does), or point SESAME_PYTHON at a python3 that imports beaker, Cryptodome and cryptography"

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	storetest.ServerMissing(t, fmt.Sprintf(format, args...)+"; "+beakerHint)
}

var (
	pythonOnce sync.Once
	pythonPath string
	pythonWhy  string
)

// findPython returns a python3 with Beaker and both AES modules.
func findPython(t *testing.T) string {
	t.Helper()
	pythonOnce.Do(func() {
		var candidates []string
		if p := os.Getenv("SESAME_PYTHON"); p != "" {
			candidates = []string{p}
		} else {
			if p, err := exec.LookPath("python3"); err == nil {
				candidates = append(candidates, p)
			}
			candidates = append(candidates, "/usr/bin/python3")
		}
		var tried []string
		for _, p := range candidates {
			out, err := exec.Command(p, "-c", "import beaker, Cryptodome, cryptography").CombinedOutput()
			if err == nil {
				pythonPath = p
				return
			}
			tried = append(tried, fmt.Sprintf("%s: %v %s", p, err, strings.TrimSpace(lastLine(string(out)))))
		}
		pythonWhy = "no python3 with Beaker, pycryptodome and cryptography (" + strings.Join(tried, "; ") + ")"
	})
	if pythonPath == "" {
		skipOrFail(t, "%s", pythonWhy)
	}
	return pythonPath
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// pyBeaker is one running driver process.
type pyBeaker struct {
	t      *testing.T
	stdin  io.WriteCloser
	stdout *bufio.Reader
}

func startBeaker(t *testing.T) *pyBeaker {
	t.Helper()
	python := findPython(t)
	driver, err := filepath.Abs(filepath.Join("testdata", "beaker_driver.py"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, python, driver)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("beaker driver: %v\n%s", err, stderr.String())
		}
		cancel()
	})
	return &pyBeaker{t: t, stdin: stdin, stdout: bufio.NewReader(stdout)}
}

// pyReq is one request to the driver; see its doc string.
type pyReq struct {
	Op       string           `json:"op"`
	Options  map[string]any   `json:"options,omitempty"`
	Cookie   string           `json:"cookie,omitempty"`
	Set      map[string]typed `json:"set,omitempty"`
	Delete   []string         `json:"delete,omitempty"`
	Save     bool             `json:"save,omitempty"`
	Value    *typed           `json:"value,omitempty"`
	Protocol int              `json:"protocol"`
	Pickle   string           `json:"pickle,omitempty"`
	// ClockOffset is added to Python's time.time() for the request.
	ClockOffset float64 `json:"clock_offset,omitempty"`
}

type pyResp struct {
	Error        string `json:"error"`
	SetCookie    string `json:"set_cookie"`
	Values       *typed `json:"values"`
	IsNew        bool   `json:"is_new"`
	CryptoModule string `json:"crypto_module"`
	Pickle       string `json:"pickle"`
	Value        *typed `json:"value"`
}

func (p *pyBeaker) call(req pyReq) pyResp {
	p.t.Helper()
	line, err := json.Marshal(req)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		p.t.Fatalf("beaker driver: %v", err)
	}
	out, err := p.stdout.ReadBytes('\n')
	if err != nil {
		p.t.Fatalf("beaker driver: %v", err)
	}
	var resp pyResp
	if err := json.Unmarshal(out, &resp); err != nil {
		p.t.Fatalf("beaker driver answered %q: %v", out, err)
	}
	return resp
}

// session is a request through Beaker's SessionMiddleware: it returns
// the session dict the Python application saw (Beaker's keys included),
// and the cookie value Beaker set ("" if none).
func (p *pyBeaker) session(req pyReq) (seen map[string]any, cookie string, resp pyResp) {
	p.t.Helper()
	req.Op = "request"
	resp = p.call(req)
	if resp.Error != "" {
		return nil, "", resp
	}
	v, err := fromTyped(*resp.Values)
	if err != nil {
		p.t.Fatalf("Python's session: %v", err)
	}
	seen = v.(map[string]any)
	if resp.SetCookie != "" {
		c, err := http.ParseSetCookie(strings.TrimSpace(resp.SetCookie))
		if err != nil {
			p.t.Fatalf("Beaker's Set-Cookie %q: %v", resp.SetCookie, err)
		}
		cookie = c.Value
	}
	return seen, cookie, resp
}

// typed carries a Python value through JSON (see the driver).
type typed struct {
	T      string          `json:"t"`
	V      json.RawMessage `json:"v,omitempty"`
	Offset *int            `json:"offset,omitempty"`
	TZName *string         `json:"tzname,omitempty"`
}

// Test-only values for what plain Go values cannot say to Python.
type (
	pyTuple    []any  // a Python tuple
	pyCallable string // an object whose pickle calls os.system(command)
)

func mustTyped(t *testing.T, v any) typed {
	t.Helper()
	tv, err := toTyped(v)
	if err != nil {
		t.Fatal(err)
	}
	return tv
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only test values that always marshal reach here
	}
	return b
}

func toTyped(v any) (typed, error) {
	switch x := v.(type) {
	case nil:
		return typed{T: "none"}, nil
	case bool:
		return typed{T: "bool", V: raw(x)}, nil
	case string:
		return typed{T: "str", V: raw(x)}, nil
	case int:
		return typed{T: "int", V: raw(strconv.Itoa(x))}, nil
	case int64:
		return typed{T: "int", V: raw(strconv.FormatInt(x, 10))}, nil
	case float64:
		return typed{T: "float", V: raw(strconv.FormatFloat(x, 'g', -1, 64))}, nil
	case []byte:
		return typed{T: "bytes", V: raw(base64.StdEncoding.EncodeToString(x))}, nil
	case time.Time:
		tv := typed{T: "datetime", V: raw([]int{x.Year(), int(x.Month()), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond() / 1000})}
		if x.Location() != time.UTC {
			name, off := x.Zone()
			tv.Offset = &off
			if name != "" {
				tv.TZName = &name
			}
		}
		return tv, nil
	case pyCallable:
		return typed{T: "callable", V: raw(string(x))}, nil
	case pyTuple:
		items, err := typedItems(x)
		return typed{T: "tuple", V: raw(items)}, err
	case []any:
		items, err := typedItems(x)
		return typed{T: "list", V: raw(items)}, err
	case map[string]any:
		var pairs [][2]typed
		for k, item := range x {
			tv, err := toTyped(item)
			if err != nil {
				return typed{}, err
			}
			pairs = append(pairs, [2]typed{{T: "str", V: raw(k)}, tv})
		}
		if pairs == nil {
			pairs = [][2]typed{}
		}
		return typed{T: "dict", V: raw(pairs)}, nil
	}
	return typed{}, fmt.Errorf("no typed form for %T", v)
}

func typedItems(items []any) ([]typed, error) {
	out := make([]typed, len(items))
	for i, item := range items {
		tv, err := toTyped(item)
		if err != nil {
			return nil, err
		}
		out[i] = tv
	}
	return out, nil
}

// fromTyped returns the Go value Decode gives for a Python value.
func fromTyped(tv typed) (any, error) {
	switch tv.T {
	case "none":
		return nil, nil
	case "bool":
		var b bool
		err := json.Unmarshal(tv.V, &b)
		return b, err
	case "str":
		var s string
		err := json.Unmarshal(tv.V, &s)
		return s, err
	case "int":
		var s string
		if err := json.Unmarshal(tv.V, &s); err != nil {
			return nil, err
		}
		return strconv.ParseInt(s, 10, 64)
	case "float":
		var s string
		if err := json.Unmarshal(tv.V, &s); err != nil {
			return nil, err
		}
		return strconv.ParseFloat(s, 64)
	case "bytes":
		var s string
		if err := json.Unmarshal(tv.V, &s); err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(s)
	case "list", "tuple":
		var items []typed
		if err := json.Unmarshal(tv.V, &items); err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, item := range items {
			v, err := fromTyped(item)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case "dict":
		var pairs [][2]typed
		if err := json.Unmarshal(tv.V, &pairs); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(pairs))
		for _, p := range pairs {
			k, err := fromTyped(p[0])
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a str", k)
			}
			if out[ks], err = fromTyped(p[1]); err != nil {
				return nil, err
			}
		}
		return out, nil
	case "datetime":
		var f [7]int
		if err := json.Unmarshal(tv.V, &f); err != nil {
			return nil, err
		}
		loc := time.UTC
		if tv.Offset != nil {
			name := ""
			if tv.TZName != nil {
				name = *tv.TZName
			}
			loc = time.FixedZone(name, *tv.Offset)
		}
		return time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6]*1000, loc), nil
	}
	return nil, fmt.Errorf("Python value %s %s has no Go form", tv.T, tv.V)
}
