package adminapi

// allRoutes lists the whole admin API, one line per feature; each feature's
// routes and handlers live in its own file. openapi.yaml documents every one of
// them (TestOpenAPI_DocumentsEveryRoute keeps the two in step).
func (a *API) allRoutes() []Route {
	var r []Route
	r = append(r, a.tenantRoutes()...)
	r = append(r, a.apiKeyRoutes()...)
	r = append(r, a.inboxRoutes()...)
	r = append(r, a.contactRoutes()...)
	r = append(r, a.legalHoldRoutes()...)
	r = append(r, a.auditRoutes()...)
	return r
}
