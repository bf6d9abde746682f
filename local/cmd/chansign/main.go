// Command chansign posts a LINE or Viber webhook message, signed with the
// tenant's secret as the provider signs it, to an integration's webhook URL
// (GET /v1/integrations shows webhookUrl), and prints the answer: the loop of
// make run without the provider. (Telegram's webhook secret is generated and
// kept encrypted, so its loop runs in the e2e tests only.)
//
//	chansign -channel line|viber -url <webhookUrl> -secret <channel secret|auth token> [-account id] [-from id] [-text t]
//
// LINE's body names the bot: -account is the integration's accountId.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/livesupportbot/backend/local/linefake"
	"github.com/livesupportbot/backend/local/viberfake"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "chansign:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chansign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ch := fs.String("channel", "line", "line or viber")
	target := fs.String("url", "", "the integration's webhookUrl")
	secret := fs.String("secret", "", "LINE's channel secret, or Viber's auth token")
	from := fs.String("from", "", "the contact's id (default: a sample one)")
	account := fs.String("account", "", "LINE: the integration's accountId (the bot's user id)")
	text := fs.String("text", "Hello from the local stack", "message text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" || *secret == "" {
		return errors.New("-url and -secret are required")
	}
	now := time.Now().UnixNano()
	var body []byte
	var header, sig string
	switch *ch {
	case "line":
		if *account == "" {
			return errors.New("-account is required for line: the integration's accountId")
		}
		if *from == "" {
			*from = "U00000000000000000000000000000001"
		}
		body = linefake.TextEvent(*account, *from, "01HLOCAL"+strconv.FormatInt(now, 10), "", *text)
		header, sig = linefake.SignatureHeader, linefake.Sign(body, *secret)
	case "viber":
		if *from == "" {
			*from = "localViberUser=="
		}
		body = viberfake.TextMessage(viberfake.FirstMessageToken+uint64(now%1e9), *from, "Local user", *text)
		header, sig = viberfake.SignatureHeader, viberfake.Sign(body, *secret)
	default:
		return fmt.Errorf("unknown channel %q (line or viber)", *ch)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	fmt.Fprintf(stdout, "%d %s\n", res.StatusCode, b)
	return nil
}
