package pages

import "strings"

// device names a user agent for people: "Firefox 128 on Windows",
// "Safari on iPhone", "curl". It knows the common browsers and systems and
// falls back to "Unknown device"; it never fails.
func device(ua string) string {
	if len(ua) > 512 {
		ua = ua[:512]
	}
	b := browser(ua)
	o := operatingSystem(ua)
	switch {
	case b == "" && o == "":
		return "Unknown device"
	case b == "":
		return "Browser on " + o
	case o == "":
		return b
	}
	return b + " on " + o
}

// browsers are tried in order: many user agents name several (Edge says
// Chrome and Safari too), so the most specific come first.
var browsers = []struct{ token, name string }{
	{"Edg/", "Edge"},
	{"EdgA/", "Edge"},
	{"EdgiOS/", "Edge"},
	{"OPR/", "Opera"},
	{"Vivaldi/", "Vivaldi"},
	{"YaBrowser/", "Yandex Browser"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Brave/", "Brave"},
	{"FxiOS/", "Firefox"},
	{"Firefox/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"HeadlessChrome/", "Headless Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"Version/", "Safari"}, // Safari puts its version here
	{"curl/", "curl"},
	{"Wget/", "Wget"},
	{"Go-http-client/", "Go HTTP client"},
	{"python-requests/", "Python requests"},
}

func browser(ua string) string {
	for _, b := range browsers {
		i := strings.Index(ua, b.token)
		if i < 0 {
			continue
		}
		if b.token == "Version/" && !strings.Contains(ua, "Safari/") {
			continue
		}
		v := ua[i+len(b.token):]
		if j := strings.IndexAny(v, ". ;)"); j >= 0 {
			v = v[:j]
		}
		if v == "" || len(v) > 5 || strings.Trim(v, "0123456789") != "" {
			return b.name
		}
		return b.name + " " + v
	}
	return ""
}

var systems = []struct{ token, name string }{
	{"iPhone", "iPhone"},
	{"iPad", "iPad"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Windows Phone", "Windows Phone"},
	{"Windows", "Windows"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Ubuntu", "Ubuntu"},
	{"Fedora", "Fedora"},
	{"Linux", "Linux"},
	{"FreeBSD", "FreeBSD"},
	{"OpenBSD", "OpenBSD"},
}

func operatingSystem(ua string) string {
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			return s.name
		}
	}
	return ""
}
