package dialogflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

// GoogleEndpoint is Google's OAuth 2.0 endpoint, the client authenticated in
// the form's parameters (as golang.org/x/oauth2/google's Endpoint, whose
// package would add the GCE metadata client).
var GoogleEndpoint = oauth2.Endpoint{
	AuthURL:   "https://accounts.google.com/o/oauth2/auth",
	TokenURL:  "https://oauth2.googleapis.com/token",
	AuthStyle: oauth2.AuthStyleInParams,
}

// EarlyExpiry is how long before an access token expires TokenSource
// refreshes it.
const EarlyExpiry = time.Minute

// TokenTimeout bounds a call to the token endpoint (Exchange, and
// TokenSource's refreshes when its context carries no oauth2.HTTPClient).
const TokenTimeout = 10 * time.Second

// ErrRevoked means the refresh token no longer works: the token endpoint
// answered invalid_grant (the owner revoked our access, or Google expired the
// grant). The owner must connect the agent again; retrying cannot help.
var ErrRevoked = errors.New("dialogflow: the grant was revoked or expired")

// ErrNoRefreshToken means an authorization code's exchange gave no refresh
// token (the consent was not offline): nothing can be stored.
var ErrNoRefreshToken = errors.New("dialogflow: the exchange gave no refresh token")

// OAuthConfig is the OAuth 2.0 client of our Google Cloud app, with the
// Scope (GoogleEndpoint, or a fake's).
func OAuthConfig(clientID, clientSecret, redirectURL string, endpoint oauth2.Endpoint) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL,
		Endpoint: endpoint, Scopes: []string{Scope}}
}

// AuthCodeURL is the consent page's URL for state, asking offline access
// (access_type=offline) with the consent screen shown every time
// (prompt=consent): Google then always issues a refresh token, also to an
// account that consented before.
func AuthCodeURL(cfg *oauth2.Config, state string) string {
	return cfg.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
}

// Exchange trades an authorization code for the grant's refresh token (the
// authorization_code grant at cfg's token URL; cfg.RedirectURL must be the
// one of the consent). Everything else of the answer (the access token, the
// id_token with the account's email, picture and locale) is dropped. An
// answer without a refresh token is ErrNoRefreshToken. A code refused (used,
// expired, of another client: 4xx) wraps ErrRefused; 5xx and network
// failures are transient. The call is bounded by TokenTimeout unless ctx
// carries an oauth2.HTTPClient.
func Exchange(ctx context.Context, cfg *oauth2.Config, code string) (string, error) {
	if code == "" {
		return "", fmt.Errorf("%w: exchange without a code", ErrInvalid)
	}
	tok, err := cfg.Exchange(withTokenClient(ctx), code)
	if err != nil {
		return "", tokenError("exchange", err)
	}
	if tok.RefreshToken == "" {
		return "", ErrNoRefreshToken
	}
	return tok.RefreshToken, nil
}

// TokenSource is the access tokens of the grant of refreshToken: kept in
// memory, reused, and refreshed (the refresh_token grant at cfg's token URL)
// EarlyExpiry before they expire. It is safe for concurrent use; keep one per
// grant. ctx is used for every refresh, so it must outlive the source (not a
// request's context); without an oauth2.HTTPClient in it a refresh is bounded
// by TokenTimeout.
//
// Its errors are classified: invalid_grant (400 or 401) matches ErrRevoked;
// any other 4xx (invalid_client, unauthorized_client: our OAuth client is
// wrong) wraps ErrAuth; 5xx and network failures are transient. A new access
// token with a new refresh token (Google does not rotate them) is used in
// memory only.
func TokenSource(ctx context.Context, cfg *oauth2.Config, refreshToken string) oauth2.TokenSource {
	if refreshToken == "" {
		return errSource{fmt.Errorf("%w: no refresh token", ErrInvalid)}
	}
	src := cfg.TokenSource(withTokenClient(ctx), &oauth2.Token{RefreshToken: refreshToken})
	return classified{oauth2.ReuseTokenSourceWithExpiry(nil, src, EarlyExpiry)}
}

// withTokenClient is ctx with an HTTP client of TokenTimeout for the token
// endpoint, unless it carries one.
func withTokenClient(ctx context.Context) context.Context {
	if _, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: TokenTimeout})
}

// classified is a token source whose errors are tokenError's.
type classified struct{ src oauth2.TokenSource }

func (c classified) Token() (*oauth2.Token, error) {
	t, err := c.src.Token()
	if err != nil {
		return nil, tokenError("token refresh", err)
	}
	return t, nil
}

type errSource struct{ err error }

func (e errSource) Token() (*oauth2.Token, error) { return nil, e.err }

// tokenErr marks an error of the token endpoint, classified already.
type tokenErr struct{ err error }

func (e *tokenErr) Error() string { return e.err.Error() }
func (e *tokenErr) Unwrap() error { return e.err }

// tokenError classifies a failure of call ("exchange", "token refresh") at
// the token endpoint without quoting it: an oauth2.RetrieveError's text
// carries the answer's body.
func tokenError(call string, err error) error {
	var te *tokenErr
	if errors.As(err, &te) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		se := &StatusError{Service: "dialogflow", Call: call, HTTPStatus: status, Reason: code(re.ErrorCode)}
		switch {
		case re.ErrorCode == "invalid_grant" && call != "exchange":
			return &tokenErr{fmt.Errorf("%w: %w", ErrRevoked, se)}
		case status/100 == 4 && call == "exchange":
			return &tokenErr{fmt.Errorf("%w: %w", ErrRefused, se)}
		case status/100 == 4 || (status == 0 && re.ErrorCode != ""):
			return &tokenErr{fmt.Errorf("%w: %w", ErrAuth, se)}
		}
		return &tokenErr{se}
	}
	var ue *url.Error
	switch {
	case errors.Is(err, ErrInvalid):
		return &tokenErr{err}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		cause := context.Canceled
		if errors.Is(err, context.DeadlineExceeded) {
			cause = context.DeadlineExceeded
		}
		return &tokenErr{fmt.Errorf("dialogflow: %s: %w", call, cause)}
	case errors.As(err, &ue):
		if ue.Timeout() {
			return &tokenErr{fmt.Errorf("dialogflow: %s: %w", call, context.DeadlineExceeded)}
		}
		return &tokenErr{fmt.Errorf("dialogflow: %s: %w", call, ue.Err)}
	}
	// The oauth2 package's own errors (an answer without an access token,
	// not JSON...) may quote the answer: name none of it.
	return &tokenErr{fmt.Errorf("dialogflow: %s: unexpected answer of the token endpoint", call)}
}

// code is an error code or status of Google's (invalid_grant, NOT_FOUND),
// or "" if it is not one.
func code(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return ""
		}
	}
	return s
}

// ctxSource bounds a token source's Token by ctx: a refresh runs with the
// source's own context, which a call's deadline does not reach.
type ctxSource struct {
	ctx context.Context
	src oauth2.TokenSource
}

func (c ctxSource) Token() (*oauth2.Token, error) {
	type answer struct {
		t   *oauth2.Token
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		t, err := c.src.Token()
		ch <- answer{t, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, tokenError("token refresh", a.err)
		}
		if a.t == nil || a.t.AccessToken == "" {
			return nil, &tokenErr{errors.New("dialogflow: token refresh: no access token")}
		}
		return a.t, nil
	case <-c.ctx.Done():
		return nil, tokenError("token refresh", c.ctx.Err())
	}
}
