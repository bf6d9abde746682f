// Command chansign posts a LINE, Viber, WeChat or X webhook message, signed
// with the tenant's secret as the provider signs it, to an integration's
// webhook URL (GET /v1/integrations shows webhookUrl), and prints the
// answer: the loop of make run without the provider. (Telegram's webhook
// secret is generated and kept encrypted, so its loop runs in the e2e tests
// only.)
//
//	chansign -channel line|viber|wechat|x -url <webhookUrl> -secret <secret> [-account id] [-aeskey k] [-from id] [-text t]
//
// The secret is LINE's channel secret, Viber's auth token, WeChat's URL
// token or X's consumer secret. LINE's and X's bodies name the account:
// -account is the integration's accountId; WeChat's safe mode encrypts for
// the app id: -account is the appId and -aeskey the EncodingAESKey (omit it
// for plain mode).
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
	"github.com/livesupportbot/backend/local/wechatfake"
	"github.com/livesupportbot/backend/local/xfake"
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
	ch := fs.String("channel", "line", "line, viber, wechat or x")
	target := fs.String("url", "", "the integration's webhookUrl")
	secret := fs.String("secret", "", "LINE's channel secret, Viber's auth token, WeChat's URL token or X's consumer secret")
	aesKey := fs.String("aeskey", "", "WeChat: the EncodingAESKey (safe mode)")
	from := fs.String("from", "", "the contact's id (default: a sample one)")
	account := fs.String("account", "", "LINE, X: the integration's accountId; WeChat: the appId")
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
	query := map[string]string{}
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
	case "wechat":
		if *account == "" {
			return errors.New("-account is required for wechat: the appId")
		}
		if *from == "" {
			*from = "oLocalWeChatUser"
		}
		plain := wechatfake.TextMessage("gh_local", *from, now/1000, *text, time.Now())
		var err error
		if query, body, err = wechatfake.Signed(*secret, *aesKey, *account, plain, time.Now()); err != nil {
			return err
		}
		header, sig = "Content-Type", "text/xml"
	case "x":
		if *account == "" {
			return errors.New("-account is required for x: the integration's accountId")
		}
		if *from == "" {
			*from = "4400001"
		}
		body = xfake.DM(*account, strconv.FormatInt(now, 10), *from, "Local user", *text, time.Now())
		header, sig = xfake.SignatureHeader, xfake.Sign(body, *secret)
	default:
		return fmt.Errorf("unknown channel %q (line, viber, wechat or x)", *ch)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	q := req.URL.Query()
	for k, v := range query {
		q.Set(k, v)
	}
	req.URL.RawQuery = q.Encode()
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
