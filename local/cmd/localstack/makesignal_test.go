package main

import "testing"

func TestCaughtIn_ReadsSIGINTOfSigCgt(t *testing.T) {
	for _, c := range []struct {
		status       string
		caught, read bool
	}{
		{"Name:\tmake\nSigBlk:\t0000000000000000\nSigCgt:\t0000000000014002\n", true, true}, // make running a recipe: INT, TERM, CHLD...
		{"Name:\tmake\nSigCgt:\t0000000000014000\n", false, true},                           // interrupted: SIGINT back to default
		{"Name:\tmake\n", false, false},                                                     // no mask
		{"SigCgt:\tzz\n", false, false},
	} {
		caught, ok := caughtIn(c.status)
		if caught != c.caught || ok != c.read {
			t.Errorf("%q: caught %v ok %v, want %v %v", c.status, caught, ok, c.caught, c.read)
		}
	}
}
