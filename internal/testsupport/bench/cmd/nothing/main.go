// Command nothing is the bare Go process that scripts/bench times as the
// floor of any command's start-up: a Go binary that does no work at all.
package main

func main() {}
