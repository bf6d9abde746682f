package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// rect is an element's getBoundingClientRect, in CSS pixels of the viewport.
type rect struct {
	Top, Left, Bottom, Right float64
}

func (r rect) String() string {
	return fmt.Sprintf("(top %.1f, left %.1f, bottom %.1f, right %.1f)", r.Top, r.Left, r.Bottom, r.Right)
}

// inside: r lies within o (half a pixel of rounding allowed).
func (r rect) inside(o rect) bool {
	const e = 0.5
	return r.Top >= o.Top-e && r.Left >= o.Left-e && r.Bottom <= o.Bottom+e && r.Right <= o.Right+e
}

func (r rect) same(o rect) bool {
	const e = 0.5
	d := func(a, b float64) bool { return a-b <= e && b-a <= e }
	return d(r.Top, o.Top) && d(r.Left, o.Left) && d(r.Bottom, o.Bottom) && d(r.Right, o.Right)
}

// widgetLayout is where the widget's parts are: their rects (nil when the
// element is missing) and whether each is shown, i.e. has a size and is the
// element (or holds the element) at its own centre, so on screen and not
// covered by anything.
type widgetLayout struct {
	W, H                                     float64
	Panel, Head, Input, Send, Close, Toggle  *rect
	Log                                      *rect
	HeadShown, InputShown, SendShown         bool
	CloseShown, ToggleShown, LastShown       bool
	PanelDisplay                             string
	LogScrolls, LogAtBottom                  bool
	LogScrollHeight, LogClientHeight, Scroll float64
}

const layoutJS = `(function () {
  function r(id) {
    var e = document.getElementById(id);
    if (!e) { return null; }
    var b = e.getBoundingClientRect();
    return { top: b.top, left: b.left, bottom: b.bottom, right: b.right };
  }
  function shown(e) {
    if (!e) { return false; }
    var b = e.getBoundingClientRect();
    if (!b.width || !b.height) { return false; }
    var at = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
    return !!at && e.contains(at);
  }
  function byId(id) { return shown(document.getElementById(id)); }
  var log = document.getElementById('lsb-log');
  var msgs = document.querySelectorAll('.lsb-msg[data-author=visitor]');
  return {
    w: innerWidth, h: innerHeight,
    panel: r('lsb-panel'), head: r('lsb-head'), input: r('lsb-input'), send: r('lsb-send'),
    close: r('lsb-close'), toggle: r('lsb-toggle'), log: r('lsb-log'),
    headShown: byId('lsb-head'), inputShown: byId('lsb-input'), sendShown: byId('lsb-send'),
    closeShown: byId('lsb-close'), toggleShown: byId('lsb-toggle'),
    lastShown: msgs.length > 0 && shown(msgs[msgs.length - 1].querySelector('.lsb-text')),
    panelDisplay: getComputedStyle(document.getElementById('lsb-panel')).display,
    logScrolls: getComputedStyle(log).overflowY === 'auto' && log.scrollHeight > log.clientHeight,
    logAtBottom: log.scrollHeight - log.scrollTop - log.clientHeight < 2,
    logScrollHeight: log.scrollHeight, logClientHeight: log.clientHeight, scroll: log.scrollTop
  };
})()`

// TestBrowser_WidgetFitsTheViewport opens the widget at phone, short-window and
// desktop sizes. Each time the panel lies inside the viewport with its header
// and input shown, a typed message is sent and shows in the log, a tall one
// makes the log scroll inside the panel (which keeps its place), and the
// launcher stays where it was. On phones the panel is the whole viewport and
// covers the launcher; its header's close control brings the launcher back.
// Elsewhere the panel floats above the launcher, with margins.
func TestBrowser_WidgetFitsTheViewport(t *testing.T) {
	s := localStack(t)
	ctx := browser(t)
	for _, size := range []struct {
		w, h   int64
		mobile bool
		full   bool // the panel is expected to fill the viewport
	}{
		{320, 480, true, true},    // a small phone
		{390, 844, true, true},    // a modern phone
		{844, 390, true, true},    // the same phone turned: full screen by its height
		{800, 500, false, false},  // a short laptop window
		{1280, 800, false, false}, // a desktop
	} {
		name := fmt.Sprintf("%dx%d", size.w, size.h)
		t.Run(name, func(t *testing.T) {
			ten := newTenant(t, s)
			tab, cancelTab := chromedp.NewContext(ctx)
			defer cancelTab()
			tab, cancel := context.WithTimeout(tab, 2*time.Minute)
			defer cancel()
			opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
			if size.mobile {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
			}
			if size.w > size.h {
				opts[0] = chromedp.EmulateLandscape
			}
			if err := chromedp.Do(tab,
				chromedp.EmulateViewport(size.w, size.h, opts...),
				chromedp.Navigate(demoURL(s, ten.WidgetKey)),
				chromedp.WaitVisible(css("#lsb-toggle")),
			); err != nil {
				t.Fatalf("load the demo page: %v", err)
			}
			layout := func() widgetLayout {
				t.Helper()
				return evalJS[widgetLayout](t, tab, layoutJS)
			}
			closed := layout()
			if closed.W != float64(size.w) || closed.H != float64(size.h) {
				t.Fatalf("viewport %vx%v, want %s", closed.W, closed.H, name)
			}
			if closed.Toggle == nil || !closed.ToggleShown {
				t.Fatalf("the launcher is not shown: %+v", closed)
			}

			if err := chromedp.Do(tab,
				chromedp.Click(css("#lsb-toggle")),
				waitJS(widgetOnline, 30*time.Second),
			); err != nil {
				t.Fatalf("open the widget: %v", err)
			}
			view := rect{Bottom: float64(size.h), Right: float64(size.w)}
			open := layout()
			checkOpen := func(when string, l widgetLayout) {
				t.Helper()
				if l.Panel == nil || l.Head == nil || l.Input == nil || l.Send == nil {
					t.Fatalf("%s: panel, header, input or send button missing: %+v", when, l)
				}
				if !l.Panel.inside(view) {
					t.Errorf("%s: the panel %v is not inside the %s viewport", when, l.Panel, name)
				}
				for _, p := range []struct {
					what  string
					r     *rect
					shown bool
				}{{"header", l.Head, l.HeadShown}, {"input", l.Input, l.InputShown}, {"send button", l.Send, l.SendShown}} {
					if !p.r.inside(*l.Panel) || !p.shown {
						t.Errorf("%s: the %s %v is not shown inside the panel %v (shown %v)", when, p.what, p.r, l.Panel, p.shown)
					}
				}
				if l.Toggle == nil || !l.Toggle.same(*closed.Toggle) {
					t.Errorf("%s: the launcher moved from %v to %v", when, closed.Toggle, l.Toggle)
				}
				if l.Close == nil || !l.CloseShown || !l.Close.inside(*l.Head) {
					t.Errorf("%s: no close control shown in the header (close %v, header %v)", when, l.Close, l.Head)
				}
				if size.full {
					if !l.Panel.same(view) {
						t.Errorf("%s: the panel %v does not fill the %s viewport of a phone", when, l.Panel, name)
					}
				} else {
					if !l.ToggleShown {
						t.Errorf("%s: the launcher %v is covered by the floating panel %v", when, l.Toggle, l.Panel)
					}
					if l.Panel.Top < 16 || l.Panel.Left < 16 || l.Panel.Bottom > l.Toggle.Top {
						t.Errorf("%s: the floating panel %v keeps no margin in the %s viewport or overlaps the launcher %v", when, l.Panel, name, l.Toggle)
					}
				}
			}
			checkOpen("opened", open)
			if t.Failed() {
				screenshot(tab, t, "e2e-widget-"+name+"-failed.png")
				return
			}

			// A typed message goes out and shows in the log.
			typed := "Hello from " + name
			if err := chromedp.Do(tab,
				visitorSends(typed, 20*time.Second),
			); err != nil {
				t.Fatalf("send a typed message: %v", err)
			}
			if l := layout(); !l.LastShown || !l.Panel.same(*open.Panel) {
				t.Errorf("the sent message is not shown in the log (shown %v), or the panel moved from %v to %v", l.LastShown, open.Panel, l.Panel)
			}

			// A message taller than the log: the log scrolls (to its end), the
			// panel stays as it was, header and input still shown.
			tall := strings.TrimSpace(strings.Repeat("a line of a long message\n", 40))
			if err := chromedp.Do(tab,
				chromedp.Evaluate[chromedp.Void](`LiveSupportBot.send(`+strconv.Quote(tall)+`)`),
				waitJS(`document.querySelectorAll('.lsb-msg[data-author=visitor][data-state=sent]').length === 2`, 20*time.Second),
			); err != nil {
				t.Fatalf("send a tall message: %v", err)
			}
			full := layout()
			checkOpen("after a tall message", full)
			if !full.Panel.same(*open.Panel) {
				t.Errorf("the panel grew from %v to %v with the log", open.Panel, full.Panel)
			}
			if !full.LogScrolls || !full.LogAtBottom || !full.Log.inside(*full.Panel) {
				t.Errorf("the log %v does not scroll inside the panel to its end: scrollHeight %v, clientHeight %v, scrollTop %v",
					full.Log, full.LogScrollHeight, full.LogClientHeight, full.Scroll)
			}
			screenshot(tab, t, "e2e-widget-"+name+".png")

			if size.full {
				// The on-screen keyboard shrinks the visual viewport, not the
				// layout one (played here by a zoom of 1.5, which does the same
				// to its height: about what a phone's keyboard leaves in
				// portrait): the panel follows it, so header and composer
				// stay in sight.
				setScale := func(f float64) {
					t.Helper()
					if _, err := chromedp.Call(tab, emulation.SetPageScaleFactor, emulation.SetPageScaleFactorParams{PageScaleFactor: f}); err != nil {
						t.Fatalf("page scale %v: %v", f, err)
					}
				}
				setScale(1.5)
				err := chromedp.Do(tab, waitJS(`(function () {
				  var v = visualViewport, top = v.offsetTop - 0.5, bottom = v.offsetTop + v.height + 0.5;
				  var head = document.getElementById('lsb-head').getBoundingClientRect();
				  var send = document.getElementById('lsb-send').getBoundingClientRect();
				  return v.scale > 1.4 && head.top >= top && send.bottom <= bottom && send.right <= v.offsetLeft + v.width + 0.5;
				})()`, 5*time.Second))
				screenshot(tab, t, "e2e-widget-"+name+"-keyboard.png")
				if err != nil {
					t.Errorf("with the visual viewport shrunk, header or composer out of sight: %v", err)
				}
				setScale(1)
				// The panel follows on the visual viewport's resize event,
				// which comes a frame after the scale.
				if err := chromedp.Do(tab, waitJS(`(function () {
				  var p = document.getElementById('lsb-panel').getBoundingClientRect();
				  return visualViewport.scale === 1 && Math.abs(p.bottom - innerHeight) < 0.5 && Math.abs(p.right - innerWidth) < 0.5;
				})()`, 5*time.Second)); err != nil {
					t.Fatalf("with the keyboard gone, the panel does not fill the viewport again: %v", err)
				}
				checkOpen("with the keyboard gone", layout())
			}

			// The header's close control closes the panel; the launcher is
			// back, where it was.
			if err := chromedp.Do(tab,
				chromedp.Click(css("#lsb-close")),
				waitJS(`!document.getElementById('lsb-root').classList.contains('lsb-open')`, 5*time.Second),
			); err != nil {
				t.Fatalf("close the widget: %v", err)
			}
			if l := layout(); l.PanelDisplay != "none" || !l.ToggleShown || !l.Toggle.same(*closed.Toggle) {
				t.Errorf("after closing: panel display %q, launcher shown %v at %v, was at %v", l.PanelDisplay, l.ToggleShown, l.Toggle, closed.Toggle)
			}
		})
	}
}
