package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// The load generator speaks HTTP/1.1 itself, as wrk does: each connection
// sends one prepared request again and again and reads just enough of each
// response to know its status and where it ends. On a 2-core machine the
// client shares the CPU with the server it measures, so the less it spends
// per request, the more of the machine is left to the contender.

// maxHeaderLine bounds one line of a response head, and maxHeaderLines
// their number; maxBody bounds a body the client reads and discards.
const (
	maxHeaderLine  = 8 << 10
	maxHeaderLines = 100
	maxBody        = 1 << 20
)

// checkRequest is the forward-auth request a proxy sends for a browser's
// request: the original headers, the session cookie among them.
func checkRequest(host, path, cookie string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", path)
	fmt.Fprintf(&b, "Host: %s\r\n", host)
	b.WriteString("User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0\r\n")
	b.WriteString("Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n")
	if cookie != "" {
		fmt.Fprintf(&b, "Cookie: %s\r\n", cookie)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// wireConn is one keep-alive connection that sends req for each check.
type wireConn struct {
	addr     string
	req      []byte
	deadline time.Time // no check may end later
	conn     net.Conn
	br       *bufio.Reader
	set      time.Time // the deadline set on conn
}

// dial (re)connects.
func (c *wireConn) dial() error {
	c.close()
	conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return err
	}
	c.conn, c.set = conn, time.Time{}
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, maxHeaderLine)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

func (c *wireConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// check sends the request and reads the response, reconnecting first if
// the server closed the connection after the last one. It returns the
// response's status.
func (c *wireConn) check() (int, error) {
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return 0, err
		}
	}
	if !c.set.Equal(c.deadline) {
		if err := c.conn.SetDeadline(c.deadline); err != nil {
			return 0, err
		}
		c.set = c.deadline
	}
	if _, err := c.conn.Write(c.req); err != nil {
		c.close()
		return 0, err
	}
	status, keepAlive, err := readResponse(c.br)
	if err != nil || !keepAlive {
		c.close()
	}
	return status, err
}

// readResponse reads one HTTP/1.1 response to a GET from br, discarding its
// body, and reports its status and whether the connection may be used
// again. A response it cannot delimit is an error.
func readResponse(br *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK": the version, a space, three digits.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("malformed status line %q", truncate(line))
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return 0, false, fmt.Errorf("malformed status line %q", truncate(line))
	}
	keepAlive = line[7] == '1' // HTTP/1.1 keeps the connection unless told otherwise
	length, chunked := int64(-1), false
	for n := 0; ; n++ {
		if n == maxHeaderLines {
			return 0, false, errors.New("too many header lines")
		}
		line, err = readLine(br)
		if err != nil {
			return 0, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("malformed header line %q", truncate(line))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 || (length >= 0 && v != length) {
				return 0, false, fmt.Errorf("bad Content-Length %q", truncate(value))
			}
			length = v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return 0, false, fmt.Errorf("unsupported Transfer-Encoding %q", truncate(value))
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			}
		}
	}
	switch {
	case status < 200 || status == 204 || status == 304:
		if chunked || length > 0 {
			return 0, false, fmt.Errorf("status %d with a body", status)
		}
	case chunked:
		err = discardChunked(br)
	case length >= 0:
		if length > maxBody {
			return 0, false, fmt.Errorf("body of %d bytes is too large", length)
		}
		_, err = br.Discard(int(length))
	default:
		// No length: the body runs to the end of the connection.
		_, err = io.Copy(io.Discard, io.LimitReader(br, maxBody))
		keepAlive = false
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the body: %w", err)
	}
	return status, keepAlive, nil
}

// discardChunked reads a chunked body and its trailer.
func discardChunked(br *bufio.Reader) error {
	total := 0
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", truncate(line))
		}
		if total += int(n); total > maxBody {
			return errors.New("chunked body too large")
		}
		if n == 0 {
			break
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
		if line, err = readLine(br); err != nil {
			return err
		} else if len(line) != 0 {
			return errors.New("chunk not followed by CRLF")
		}
	}
	for n := 0; n < maxHeaderLines; n++ { // trailer
		line, err := readLine(br)
		if err != nil || len(line) == 0 {
			return err
		}
	}
	return errors.New("too many trailer lines")
}

// readLine returns the next CRLF-terminated line without its CRLF. The
// slice is valid until the next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errors.New("header line too long")
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return nil, errors.New("line not ended by CRLF")
	}
	return line[:len(line)-1], nil
}

// truncate shortens b for an error message.
func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
