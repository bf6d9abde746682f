// Package apiurl gives the public base URL of the HTTP API a request came
// through. Functions learn it at run time, from the request, rather than from
// their configuration: a function's environment that named the API would make
// the API depend on the function and the function on the API, a cycle that
// CloudFormation refuses.
package apiurl

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Base returns the base URL (no trailing slash) that clients use for the API
// of the request: configured when it is set (the PublicApiUrl parameter, for a
// custom domain whose API mapping has a path), else https://<domainName>, with
// /<stage> after it on the API's own execute-api domain (a custom domain's API
// mapping hides the stage). It is empty when the request names no domain.
func Base(configured string, rc events.APIGatewayV2HTTPRequestContext) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	if rc.DomainName == "" {
		return ""
	}
	base := "https://" + rc.DomainName
	if strings.Contains(rc.DomainName, ".execute-api.") && rc.Stage != "" && rc.Stage != "$default" {
		base += "/" + rc.Stage
	}
	return base
}
