package usage

import (
	"regexp"
	"strings"
)

// UserAgent is the coarse reading of a User-Agent header that we keep: browser
// name and major version (usage data), device class and operating system
// (technical data). Nothing finer, so it does not fingerprint the visitor.
type UserAgent struct {
	Browser string // e.g. "Chrome 131"
	OS      string // e.g. "Android", "iOS", "Windows", "macOS", "Linux"
	Device  string // "mobile", "tablet", "desktop" or "" when unknown
}

var browsers = []struct {
	name string
	re   *regexp.Regexp
}{
	{"Edge", regexp.MustCompile(`Edg(?:e|A|iOS)?/(\d+)`)},
	{"Opera", regexp.MustCompile(`(?:OPR|Opera)/(\d+)`)},
	{"Samsung Internet", regexp.MustCompile(`SamsungBrowser/(\d+)`)},
	{"Firefox", regexp.MustCompile(`(?:Firefox|FxiOS)/(\d+)`)},
	{"Chrome", regexp.MustCompile(`(?:Chrome|CriOS)/(\d+)`)},
	{"Safari", regexp.MustCompile(`Version/(\d+).*Safari/`)},
}

// ParseUserAgent reads browser, OS and device class from a User-Agent header.
func ParseUserAgent(ua string) UserAgent {
	var out UserAgent
	if len(ua) > 512 {
		ua = ua[:512]
	}
	for _, b := range browsers {
		if m := b.re.FindStringSubmatch(ua); m != nil {
			out.Browser = b.name + " " + m[1]
			break
		}
	}
	switch {
	case strings.Contains(ua, "iPad"):
		out.OS, out.Device = "iOS", "tablet"
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPod"):
		out.OS, out.Device = "iOS", "mobile"
	case strings.Contains(ua, "Android"):
		out.OS, out.Device = "Android", "mobile"
		if !strings.Contains(ua, "Mobile") {
			out.Device = "tablet"
		}
	case strings.Contains(ua, "Windows"):
		out.OS, out.Device = "Windows", "desktop"
	case strings.Contains(ua, "Mac OS X") || strings.Contains(ua, "Macintosh"):
		out.OS, out.Device = "macOS", "desktop"
	case strings.Contains(ua, "CrOS"):
		out.OS, out.Device = "ChromeOS", "desktop"
	case strings.Contains(ua, "Linux"):
		out.OS, out.Device = "Linux", "desktop"
	}
	return out
}
