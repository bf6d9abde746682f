package adminapi

// allRoutes lists the whole admin API, one line per feature; each feature's
// routes and handlers live in its own file.
//
// A new route also needs: its operation in openapi.yaml (with x-role), an event
// on AdminApiFunction in template.yaml, and a line in routeCases
// (isolation_test.go; plus wrongTypes in validation_test.go if it takes a body).
// Tests fail until all of them are there, so every route is documented,
// deployed, and checked for tenant isolation, roles and bad input.
func (a *API) allRoutes() []Route {
	var r []Route
	r = append(r, a.tenantRoutes()...)
	r = append(r, a.tenantCloseRoutes()...)
	r = append(r, a.apiKeyRoutes()...)
	r = append(r, a.inboxRoutes()...)
	r = append(r, a.agentRoutes()...)
	r = append(r, a.contactRoutes()...)
	r = append(r, a.legalHoldRoutes()...)
	r = append(r, a.shardRoutes()...)
	r = append(r, a.auditRoutes()...)
	r = append(r, a.privacyRoutes()...)
	r = append(r, a.integrationRoutes()...)
	r = append(r, a.channelRoutes()...)
	return r
}
