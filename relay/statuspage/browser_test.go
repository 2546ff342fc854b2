package statuspage_test

// A real browser for the page's tests: Debian's headless Chromium driven
// over the DevTools protocol (chromedp), recording every console error,
// uncaught exception and Content-Security-Policy violation.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string // console errors, exceptions, CSP violations
}

// chromiumPath finds Debian's chromium ($DKIMRELAY_CHROMIUM overrides).
// A missing browser fails the test: the page is only tested in one.
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("DKIMRELAY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: the status page is tested in a real browser; install it with `bash scripts/install-debs.sh chromium` (scripts/test.sh does)")
	return ""
}

// cspWatch records each CSP violation where the test can read it. DevTools
// injects it, so the page's own policy (no script at all) does not apply
// to it.
const cspWatch = `window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));`

// newBrowser starts Chromium with a fresh profile and no network but
// loopback, and opens a tab; headers go with every request (basic auth).
func newBrowser(t *testing.T, headers map[string]any) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	// The first call starts the browser, under no deadline (the
	// browser lives as long as the context of that call).
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleLog, "debug", "info":
			default:
				b.problem("console %s (%s): %s", m.Type, m.Source, m.String())
			}
		}
	}()
	if len(headers) > 0 {
		if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) problem(format string, a ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, a...))
}

// run runs actions in the tab, each within a minute.
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// value runs an action that returns a value.
func value[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// open loads url at a window width and waits for the page.
func (b *browser) open(url string, width, height int64, mobile bool) {
	b.t.Helper()
	vp := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if mobile {
		vp = []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}
	}
	b.run(chromedp.EmulateViewport(width, height, vp...), chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

// colorScheme makes the page see prefers-color-scheme as scheme ("light"
// or "dark").
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		b.t.Fatal(err)
	}
}

// violations are the page's CSP violations as the page saw them, plus
// everything the console and log reported.
func (b *browser) violations() []string {
	b.t.Helper()
	csp := value(b, chromedp.Evaluate[[]string](`window.__violations || []`))
	b.mu.Lock()
	defer b.mu.Unlock()
	return append(csp, b.problems...)
}

// screenshot saves the whole page as name.png in the artifacts folder.
func (b *browser) screenshot(dir, name string) string {
	b.t.Helper()
	return b.save(dir, name, value(b, chromedp.FullScreenshot(100)))
}

// screenshotScreen saves what the window shows, the first screen of the
// page, as name.png.
func (b *browser) screenshotScreen(dir, name string) string {
	b.t.Helper()
	return b.save(dir, name, value(b, chromedp.CaptureScreenshot()))
}

func (b *browser) save(dir, name string, png []byte) string {
	b.t.Helper()
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// artifacts is where the screenshots go: $DKIMRELAY_ARTIFACTS/statuspage
// (scripts/test.sh sets it and prints the files), else the test's
// artifact folder (go test -artifacts).
func artifacts(t *testing.T) string {
	dir := t.ArtifactDir()
	if root := os.Getenv("DKIMRELAY_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, "statuspage")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
