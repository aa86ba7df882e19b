// Package progress is the one shape in which vendorimg's library reports
// what it is doing: every long operation (sync, verify, load, push) takes
// a Func and calls it with Events. A library never prints (STYLE.md 9);
// the command line draws bars from these events, a test harness may log
// them, and a nil Func discards them.
package progress
