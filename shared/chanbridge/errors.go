package chanbridge

import "errors"

// ErrRefused marks a provider's final refusal: a credential it does not take
// at connect, or a send it will not make however often it is tried.
var ErrRefused = errors.New("refused by the provider")

// ErrTooLarge marks an attachment over the size the bridge copies.
var ErrTooLarge = errors.New("attachment is too large")

// ErrTokenExpired marks a call the provider refused for its access token
// (WeChat 40001, 40014, 42001; X 401): the bridge refreshes the token and
// tries the call once more.
var ErrTokenExpired = errors.New("access token refused by the provider")
