package store

// Holdable exposes holdable to the external tests, which check stored items by
// their keys.
func Holdable(pk, sk string) bool { return holdable(pk, sk) }
