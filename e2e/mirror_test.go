package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds how long the mirror may take to log its address.
	startTimeout = 60 * time.Second
	// stopTimeout bounds how long the mirror may take to exit after SIGTERM.
	stopTimeout = 30 * time.Second
	// logTailLines is how many of the mirror's last log lines are kept for
	// failure reports.
	logTailLines = 300
)

// listeningLine matches the log line hubmirror writes once it accepts
// connections.
var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// mirror is a running `hubmirror serve` child process.
type mirror struct {
	// Addr is the host:port the mirror listens on.
	Addr string
	// CacheDir is the mirror's cache directory.
	CacheDir string
	// ConfigPath is the settings file the mirror was started with.
	ConfigPath string

	cmd      *exec.Cmd
	log      *logTail
	exited   chan struct{} // closed once Wait has returned
	waitErr  error         // Wait's result, valid after exited is closed
	stopOnce sync.Once
}

// startMirror starts hubmirror with a fresh cache directory in front of the
// fake hub at upstreamURL. The mirror is stopped, and its exit status
// checked, when tb's test ends.
func startMirror(tb testing.TB, upstreamURL string) *mirror {
	tb.Helper()
	return startMirrorWithCache(tb, upstreamURL, filepath.Join(tb.TempDir(), "cache"))
}

// startMirrorWithCache is startMirror with a given cache directory.
func startMirrorWithCache(tb testing.TB, upstreamURL, cacheDir string) *mirror {
	tb.Helper()
	return startMirrorEnv(tb, upstreamURL, cacheDir, isolatedEnv(tb))
}

// startMirrorEnv is startMirrorWithCache with a given environment and more
// arguments for `hubmirror serve`.
func startMirrorEnv(tb testing.TB, upstreamURL, cacheDir string, env []string, args ...string) *mirror {
	tb.Helper()
	bin := binary(tb)
	confDir := tb.TempDir()
	m := &mirror{
		CacheDir:   cacheDir,
		ConfigPath: filepath.Join(confDir, "settings.json"),
		log:        newLogTail(logTailLines),
		exited:     make(chan struct{}),
	}
	m.cmd = exec.Command(bin, "serve",
		"--listen", "127.0.0.1:0",
		"--cache-dir", cacheDir,
		"--config", m.ConfigPath,
		"--upstream", "docker.io="+upstreamURL,
	)
	m.cmd.Args = append(m.cmd.Args, args...)
	m.cmd.Env = env
	m.cmd.Stdout = m.log
	m.cmd.Stderr = m.log
	m.cmd.SysProcAttr = childProcAttr()
	m.cmd.WaitDelay = 5 * time.Second
	if err := m.cmd.Start(); err != nil {
		tb.Fatalf("start hubmirror: %v", err)
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		close(m.exited)
	}()
	tb.Cleanup(func() {
		m.stop(tb)
		if tb.Failed() {
			tb.Logf("hubmirror log (last %d lines):\n%s", logTailLines, m.log)
		}
	})

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case addr := <-m.log.addr:
		m.Addr = addr
	case <-m.exited:
		tb.Fatalf("hubmirror exited before listening: %v", m.waitErr) // the cleanup logs its output
	case <-timer.C:
		tb.Fatalf("hubmirror did not log %q within %v", "msg=listening addr=...", startTimeout)
	}
	return m
}

// stopAndWipe stops m and removes its cache directory, so that a
// benchmark's next iteration starts cold.
func (m *mirror) stopAndWipe(tb testing.TB) {
	tb.Helper()
	m.stop(tb)
	if err := os.RemoveAll(m.CacheDir); err != nil {
		tb.Fatal(err)
	}
}

// stop sends SIGTERM and waits for a clean exit; it is safe to call twice.
func (m *mirror) stop(tb testing.TB) {
	tb.Helper()
	m.stopOnce.Do(func() {
		select {
		case <-m.exited:
			tb.Errorf("hubmirror exited on its own: %v", m.waitErr)
			return
		default:
		}
		if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			tb.Errorf("signal hubmirror: %v", err)
		}
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-m.exited:
		case <-timer.C:
			_ = m.cmd.Process.Kill()
			<-m.exited
			tb.Errorf("hubmirror did not exit within %v of SIGTERM; killed", stopTimeout)
			return
		}
		if m.waitErr != nil {
			tb.Errorf("hubmirror exit after SIGTERM: %v (want exit status 0)", m.waitErr)
		}
	})
}

// URL returns http://ADDR followed by path.
func (m *mirror) URL(path string) string { return "http://" + m.Addr + path }

// peakRSSMiB returns the mirror's peak resident set size (VmHWM) in MiB.
func (m *mirror) peakRSSMiB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmHWM line %q", line)
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmHWM: %w", err)
		}
		return kb / 1024, nil
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// cpuSeconds returns the user and system CPU time the mirror has used.
func (m *mirror) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at ")".
	_, rest, ok := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat %q", b)
	}
	var ticks float64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat: %w", err)
		}
		ticks += n
	}
	return ticks / 100, nil // USER_HZ is 100 on Linux
}

// upstreamBytes returns the value of hubmirror_upstream_bytes_total from
// /metrics, summed over all label sets.
func (m *mirror) upstreamBytes() (float64, error) {
	resp, err := http.Get(m.URL("/metrics"))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	const name = "hubmirror_upstream_bytes_total"
	var total float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		v, ok, err := sampleValue(sc.Text(), name)
		if err != nil {
			return 0, err
		}
		if ok {
			total += v
			found = true
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%s missing from /metrics", name)
	}
	return total, nil
}

// sampleValue parses one line of Prometheus text format and returns the
// sample value when the line is a sample of the metric called name.
func sampleValue(line, name string) (float64, bool, error) {
	rest, ok := strings.CutPrefix(line, name)
	if !ok || rest == "" {
		return 0, false, nil
	}
	switch rest[0] {
	case ' ':
	case '{':
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			return 0, false, fmt.Errorf("malformed metric line %q", line)
		}
		rest = rest[end+1:]
	default:
		return 0, false, nil // another metric sharing the prefix
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return 0, false, fmt.Errorf("malformed metric line %q", line)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return 0, false, fmt.Errorf("parse metric line %q: %w", line, err)
	}
	return v, true, nil
}

// logTail is an io.Writer that keeps the last lines written to it and
// reports the address from the first "msg=listening" line on addr.
type logTail struct {
	addr chan string

	mu      sync.Mutex
	partial []byte
	lines   []string
	max     int
	dropped int
	found   bool
}

func newLogTail(max int) *logTail {
	return &logTail{addr: make(chan string, 1), max: max}
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.addLine(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *logTail) addLine(line string) {
	if !l.found {
		if m := listeningLine.FindStringSubmatch(line); m != nil {
			l.found = true
			l.addr <- strings.Trim(m[1], `"`)
		}
	}
	if len(l.lines) == l.max {
		l.lines = l.lines[1:]
		l.dropped++
	}
	l.lines = append(l.lines, line)
}

// String returns the kept lines.
func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	if l.dropped > 0 {
		fmt.Fprintf(&b, "[%d earlier lines dropped]\n", l.dropped)
	}
	for _, line := range l.lines {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if len(l.partial) > 0 {
		b.Write(l.partial)
		b.WriteByte('\n')
	}
	return b.String()
}

var _ io.Writer = (*logTail)(nil)

// kill ends the mirror with SIGKILL, as a crash would, and waits for it.
func (m *mirror) kill(tb testing.TB) {
	tb.Helper()
	m.stopOnce.Do(func() {
		_ = m.cmd.Process.Kill()
		<-m.exited
	})
}
