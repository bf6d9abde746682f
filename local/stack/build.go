package stack

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/lambdarunner"
)

// builds are the emulator's and the functions' builds, started as soon as
// the template is read: they need nothing from moto, so they run while moto
// starts and the resources are made (the builds are most of a first start).
type builds struct {
	done chan struct{}
	err  error
	bins map[string]string // function id -> its bootstrap
}

// wait returns once every build finished (or failed).
func (b *builds) wait(ctx context.Context) error {
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// buildWorkers is how many builds run at once: one per core (each go build
// compiles in parallel too, but a function's own packages and its link are
// mostly serial, so more than one build keeps the cores busy), at most 4 so
// that the linkers' memory stays modest.
func buildWorkers() int { return min(max(runtime.NumCPU(), 1), 4) }

// startBuilds builds the emulator, then every selected function with a
// source folder into the work folder, buildWorkers at a time, logging each
// ("building functions 3/12: dispatch"). The build step waits for them.
func (st *starter) startBuilds(context.Context) error {
	o, s := st.o, st.s
	st.work = o.WorkDir
	if st.work == "" {
		var err error
		if st.work, err = os.MkdirTemp("", "localstack"); err != nil {
			return err
		}
		s.onClose(func() { os.RemoveAll(st.work) })
	}
	st.rie = filepath.Join(st.work, "aws-lambda-rie")
	todo := st.selected()
	ctx, cancel := context.WithCancel(context.Background())
	b := &builds{done: make(chan struct{}), bins: map[string]string{}}
	st.builds = b
	s.onClose(func() { cancel(); <-b.done })
	go func() {
		defer close(b.done)
		b.err = st.build(ctx, o, todo, b.bins)
	}()
	return nil
}

// selected returns the functions to run: those asked for (all by default)
// that have a source folder; the others are listed in Skipped.
func (st *starter) selected() []cfntemplate.Function {
	o, s := st.o, st.s
	want := map[string]bool{}
	for _, id := range o.Functions {
		want[id] = true
	}
	var out []cfntemplate.Function
	for _, f := range st.fns {
		if len(want) > 0 && !want[f.ID] {
			continue
		}
		if _, err := os.Stat(filepath.Join(o.RepoRoot, f.Dir(), "main.go")); err != nil {
			s.Skipped = append(s.Skipped, f.ID)
			o.Log.Warn("function has no source yet, not started", "function", f.ID, "folder", f.Dir())
			continue
		}
		out = append(out, f)
	}
	return out
}

// build compiles the emulator, then the functions in parallel. It runs while
// the later steps of Start change st.o, so it reads the options o as they
// were when the builds started.
func (st *starter) build(ctx context.Context, o Options, fns []cfntemplate.Function, bins map[string]string) error {
	t0 := time.Now()
	o.Log.Info("compiling the Lambda emulator")
	stop := heartbeat(o.Log, func() string { return "compiling the Lambda emulator" })
	err := lambdarunner.BuildRIE(ctx, o.RepoRoot, st.rie)
	stop()
	if err != nil {
		return err
	}
	o.Log.Info("compiled the Lambda emulator", "took", since(t0))
	t0 = time.Now()
	jobs := make(chan cfntemplate.Function)
	var (
		mu       sync.Mutex
		started  int
		building = map[string]bool{} // the folders being built now
		firstErr error
		wg       sync.WaitGroup
	)
	stop = heartbeat(o.Log, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("building functions %d/%d started, %d done; now: %s", started, len(fns), len(bins),
			strings.Join(slices.Sorted(maps.Keys(building)), ", "))
	})
	defer stop()
	for range buildWorkers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				mu.Lock()
				started++
				name := filepath.Base(f.Dir())
				building[name] = true
				o.Log.Info(fmt.Sprintf("building functions %d/%d: %s", started, len(fns), name))
				mu.Unlock()
				bin := filepath.Join(st.work, f.ID, "bootstrap")
				err := lambdarunner.BuildBootstrap(ctx, o.RepoRoot, "./"+f.Dir(), bin)
				mu.Lock()
				delete(building, name)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				bins[f.ID] = bin
				mu.Unlock()
			}
		}()
	}
	for _, f := range fns {
		if ctx.Err() != nil {
			break
		}
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr == nil {
		o.Log.Info("built the functions", "count", len(fns), "workers", buildWorkers(), "took", since(t0))
	}
	return firstErr
}

// HeartbeatEvery is how often a long build step says it is still at work
// (the first build compiles the AWS SDK: minutes on a small machine).
var HeartbeatEvery = 15 * time.Second

// heartbeat logs "still at it: <what()> (N s)" every HeartbeatEvery until the
// returned stop is called, so no step of a first start is a silent wait.
func heartbeat(log *slog.Logger, what func() string) (stop func()) {
	t0, done, ended := time.Now(), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		tick := time.NewTicker(HeartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				log.Info(fmt.Sprintf("still at it: %s (%d s)", what(), int(time.Since(t0).Seconds())))
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-ended }) }
}

// since is the time since t0, rounded for a log line.
func since(t0 time.Time) time.Duration { return time.Since(t0).Round(100 * time.Millisecond) }
