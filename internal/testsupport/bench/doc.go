// Package bench holds the helpers of scripts/bench, the repository's
// benchmark (issue 9): cmd/benchtool times commands, hashes files on every
// core and prints the report; cmd/nothing is the bare Go process baseline.
// Nothing here is part of vendorimg itself.
package bench
