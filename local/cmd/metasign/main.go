// Command metasign posts a Meta webhook (Messenger, Instagram or WhatsApp),
// signed with the app secret as Meta signs it (x-hub-signature-256), to the
// local stack, and prints the answer's status and body. The body is a sample
// text message with a fresh mid or wamid each run, or a payload file.
//
//	metasign [-product messenger|instagram|whatsapp] [-account id] [-from id] [-text t]
//	         [-file payload.json|-] [-secret s] [-url u] [-print]
//
// -print prints an equivalent curl command instead of posting.
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
	"strings"
	"time"

	"github.com/livesupportbot/backend/local/metafake"
)

// LocalAppSecret is the local stack's Meta app secret (make run).
const LocalAppSecret = metafake.LocalAppSecret

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "metasign:", err)
		}
		os.Exit(2)
	}
}

// defaultAccounts are the local stack's accounts of each product.
var defaultAccounts = map[string]string{"messenger": "100000000000001", "instagram": "100000000000002", "whatsapp": "100000000000003"}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metasign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := getenv("META_APP_SECRET")
	if secret == "" {
		secret = LocalAppSecret
	}
	target := fs.String("url", "http://127.0.0.1:8080/dev/webhooks/meta", "webhook URL")
	fs.StringVar(&secret, "secret", secret, "app secret (default $META_APP_SECRET, else the local stack's)")
	product := fs.String("product", "messenger", "messenger, instagram or whatsapp")
	account := fs.String("account", "", "page id, Instagram account id or phone number id (default 100000000000001, 100000000000002, 100000000000003)")
	from := fs.String("from", "local-user", "contact: PSID, IGSID or wa_id")
	text := fs.String("text", "Hello from Meta", "message text")
	file := fs.String("file", "", "payload file to sign instead of the sample (- for stdin)")
	printCurl := fs.Bool("print", false, "print a curl command instead of posting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, ok := defaultAccounts[*product]; !ok {
		return fmt.Errorf("unknown product %q (messenger, instagram or whatsapp)", *product)
	}
	if *account == "" {
		*account = defaultAccounts[*product]
	}
	body, err := payload(*file, *product, *account, *from, *text, stdin)
	if err != nil {
		return err
	}
	sig := metafake.Sign(body, secret)
	if *printCurl {
		fmt.Fprintf(stdout, "curl -sS -X POST -H 'Content-Type: application/json' -H 'X-Hub-Signature-256: %s' --data-binary %s %s\n",
			sig, shellQuote(string(body)), shellQuote(*target))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Status)
	fmt.Fprintln(stdout, string(answer))
	return nil
}

// payload is the file's bytes, or the sample message of product with a
// fresh id.
func payload(file, product, account, from, text string, stdin io.Reader) ([]byte, error) {
	switch file {
	case "":
	case "-":
		return io.ReadAll(stdin)
	default:
		return os.ReadFile(file)
	}
	n := strconv.FormatInt(time.Now().UnixNano(), 10)
	switch product {
	case "instagram":
		return metafake.InstagramPayload(account, from, "m_local_"+n, text), nil
	case "whatsapp":
		return metafake.WhatsAppPayload(account, from, "Local User", "wamid.local"+n, text), nil
	}
	return metafake.MessengerPayload(account, from, "m_local_"+n, text), nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
