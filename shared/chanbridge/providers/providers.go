// Package providers is the one list of the bridge's channels, with their API
// endpoints from the environment (TELEGRAM_API_URL, LINE_API_URL,
// LINE_DATA_URL, VIBER_API_URL, WECHAT_API_URL, X_API_URL; unset: the providers' own), so the webhook,
// dispatch and the admin API serve the same channels.
package providers

import (
	"github.com/livesupportbot/backend/shared/chanbridge"
	"github.com/livesupportbot/backend/shared/line"
	"github.com/livesupportbot/backend/shared/telegram"
	"github.com/livesupportbot/backend/shared/viber"
	"github.com/livesupportbot/backend/shared/wechat"
	"github.com/livesupportbot/backend/shared/xdm"
)

// FromEnv returns the providers by channel name.
func FromEnv(getenv func(string) string) map[string]chanbridge.Provider {
	return map[string]chanbridge.Provider{
		"telegram": &telegram.Provider{BaseURL: getenv("TELEGRAM_API_URL")},
		"line":     &line.Provider{APIURL: getenv("LINE_API_URL"), DataURL: getenv("LINE_DATA_URL")},
		"viber":    &viber.Provider{BaseURL: getenv("VIBER_API_URL")},
		"wechat":   &wechat.Provider{BaseURL: getenv("WECHAT_API_URL")},
		"x":        &xdm.Provider{BaseURL: getenv("X_API_URL")},
	}
}
