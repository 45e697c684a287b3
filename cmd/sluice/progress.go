package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/sluice-dev/sluice/internal/engine"
)

// progressEvery is the shortest time between two draws of the progress
// line: at most 10 a second, however fast batches come.
const progressEvery = 100 * time.Millisecond

// clearLine moves to the start of the line and erases it (ANSI).
const clearLine = "\r\033[K"

// console is sluice run's output: log values on stdout, and on stderr the
// progress line (only when stderr is a terminal) and everything else. One
// lock orders them, and anything written to stderr first erases the
// progress line, which the next tick draws again.
type console struct {
	stdout, stderr io.Writer
	// tty: the progress line is shown; sharedTTY: stdout is a terminal
	// too, so log values written there must erase it first.
	tty, sharedTTY bool
	now            func() time.Time

	mu       sync.Mutex
	counters engine.Counters
	begin    time.Time
	end      time.Time
	drawn    bool
	done     chan struct{}
	wg       sync.WaitGroup
}

// newConsole shows progress when progress is asked for and stderr is a
// terminal.
func newConsole(stdout, stderr io.Writer, progress bool) *console {
	c := &console{stdout: stdout, stderr: stderr, now: time.Now}
	if f, ok := stderr.(*os.File); ok && progress {
		c.tty = term.IsTerminal(int(f.Fd()))
	}
	if f, ok := stdout.(*os.File); ok && c.tty {
		c.sharedTTY = term.IsTerminal(int(f.Fd()))
	}
	return c
}

// start notes the run's start and, on a terminal, starts drawing.
func (c *console) start() {
	c.begin = c.now()
	if !c.tty {
		return
	}
	c.done = make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-t.C:
				c.draw()
			}
		}
	}()
}

// stop ends drawing and erases the progress line.
func (c *console) stop() {
	if c.done != nil {
		close(c.done)
		c.wg.Wait()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.end = c.now()
	c.clearLocked()
}

// elapsed is the run's duration, once stopped.
func (c *console) elapsed() durationText { return durationText(c.end.Sub(c.begin)) }

// progress takes the engine's counters after a batch.
func (c *console) progress(cs engine.Counters) {
	c.mu.Lock()
	c.counters = cs
	c.mu.Unlock()
}

// draw writes the progress line over the previous one.
func (c *console) draw() {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprint(c.stderr, clearLine+runProgressLine(c.counters, durationText(c.now().Sub(c.begin))))
	c.drawn = true
}

// runProgressLine is the text of the run's progress display.
func runProgressLine(cs engine.Counters, d durationText) string {
	return fmt.Sprintf("read %d · succeeded %d · failed %d · skipped %d · %s records/s · %s",
		cs.Read, cs.Succeeded, cs.Failed, cs.Skipped, d.rate(cs.Read), time.Duration(d).Round(100*time.Millisecond))
}

func (c *console) clearLocked() {
	if c.drawn {
		fmt.Fprint(c.stderr, clearLine)
		c.drawn = false
	}
}

// logValue writes a log step's value to stdout as a JSON line.
func (c *console) logValue(l engine.LogEntry) {
	v, err := json.Marshal(l.Value)
	if err != nil {
		v, _ = json.Marshal(fmt.Sprint(l.Value))
	}
	line, _ := json.Marshal(struct {
		EntityID string          `json:"entity_id"`
		Step     string          `json:"step"`
		Value    json.RawMessage `json:"value"`
	}{l.EntityID, l.Step, v})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sharedTTY {
		c.clearLocked()
	}
	c.stdout.Write(append(line, '\n'))
}

// errWriter writes to stderr, erasing the progress line first.
func (c *console) errWriter() io.Writer { return stderrWriter{c} }

type stderrWriter struct{ c *console }

func (w stderrWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	w.c.clearLocked()
	return w.c.stderr.Write(p)
}

// durationText is a duration as the summary and the progress line show it.
type durationText time.Duration

func (d durationText) String() string {
	t := time.Duration(d)
	if t < time.Minute {
		return t.Round(time.Millisecond).String()
	}
	return t.Round(time.Second).String()
}

// rate is n per second of d.
func (d durationText) rate(n int64) string {
	s := time.Duration(d).Seconds()
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(n)/s)
}
