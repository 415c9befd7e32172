// Package uiremote carries ui.Backend between the desktop app's two
// processes: the parent, which holds the mirror and the tray icon, and the
// window process (`hubmirror window`), which runs the Fyne windows and is
// started only while a window is open. Idle, the app then costs no GL
// context and no Fyne event loop.
//
// The protocol is HTTP/1.1 with JSON bodies over a private local
// connection that the caller sets up (a unix socket in a 0700 directory,
// or a loopback port guarded by a token). Reads and streams are GET, the
// rest POST:
//
//	GET  /settings            settings in force
//	POST /settings/save       body: settings
//	POST /settings/update     body: {"before": settings, "after": settings}
//	GET  /settings/updates    stream of settings
//	POST /mirror/start, /mirror/stop
//	GET  /status              status snapshot
//	GET  /status/updates      stream of status snapshots
//	GET  /account             {"user": name}
//	POST /account/save, /account/test   body: {"user", "password"}
//	POST /account/remove
//	GET  /cache/usage
//	POST /cache/verify        stream of progress frames, then the result
//	POST /cache/clear
//	POST /cache/prefetch      body: {"ref"}; progress frames, then the result
//	GET  /about
//	POST /quit
//	GET  /windows             stream of WindowRequest (the window process attaches)
//	POST /windows/idle        body: {"seq"}; answers {"exit"}
//
// A call the backend answered, with or without an error, is a 200 whose
// body is a reply: {"value": …, "error": {…}}. The error keeps its message
// verbatim and says whether it is a *settings.FieldError (with its fields)
// and whether it is mirror.ErrAddrInUse, so that errors.As and errors.Is
// work in the window process as in the parent. A request the server cannot
// take (unknown path, wrong method, bad body) gets a 4xx with the same
// reply shape. Streams are newline-delimited JSON, flushed per value.
//
// Passwords travel in request bodies only, never in URLs, and the server
// neither logs them nor echoes bodies back in errors.
package uiremote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/ui"
)

// Host is what the parent offers the window process besides the Backend.
type Host interface {
	// Quit quits the whole app: it stops the mirror and ends both
	// processes. It returns at once (the work may run asynchronously), so
	// the window process still gets its answer.
	Quit()
}

// The paths of the calls; client and server share them so they cannot
// drift apart.
const (
	pathSettings        = "/settings"
	pathSaveSettings    = "/settings/save"
	pathUpdateSettings  = "/settings/update"
	pathSettingsUpdates = "/settings/updates"
	pathStart           = "/mirror/start"
	pathStop            = "/mirror/stop"
	pathStatus          = "/status"
	pathStatusUpdates   = "/status/updates"
	pathAccount         = "/account"
	pathSaveAccount     = "/account/save"
	pathTestAccount     = "/account/test"
	pathRemoveAccount   = "/account/remove"
	pathCacheUsage      = "/cache/usage"
	pathVerifyCache     = "/cache/verify"
	pathClearCache      = "/cache/clear"
	pathApplySetup      = "/setup/apply"
	pathPrefetch        = "/cache/prefetch"
	pathAbout           = "/about"
	pathQuit            = "/quit"
	pathWindows         = "/windows"
	pathIdle            = "/windows/idle"
)

// maxBody bounds a request body: the largest is two copies of the
// settings, far below this.
const maxBody = 1 << 20

// ndjson is the content type of the streaming answers.
const ndjson = "application/x-ndjson"

// reply is the body of every answer that is not a stream, and the last
// frame of a progress stream: the backend's value and its error.
type reply struct {
	Value json.RawMessage `json:"value,omitempty"`
	Error *wireError      `json:"error,omitempty"`
}

// wireError is an error as it crosses the connection. Message is the
// original's Error() verbatim; Field and AddrInUse carry what callers
// branch on with errors.As and errors.Is.
type wireError struct {
	Message   string               `json:"message"`
	Field     *settings.FieldError `json:"field,omitempty"`
	AddrInUse bool                 `json:"addr_in_use,omitempty"`
	// NoKeyring: the error is ui.ErrKeyringUnavailable's.
	NoKeyring bool `json:"keyring_unavailable,omitempty"`
}

// frame is one line of a progress stream: a progress report, or, last,
// the reply.
type frame struct {
	Progress *progressReport `json:"progress,omitempty"`
	Reply    *reply          `json:"reply,omitempty"`
}

// progressReport is a progress report of VerifyCache (blobs) or Prefetch (bytes).
type progressReport struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// updateRequest is what UpdateSettings sends instead of its closure: the
// settings the edit started from and what it made of them.
type updateRequest struct {
	Before settings.Settings `json:"before"`
	After  settings.Settings `json:"after"`
}

// accountRequest carries an account to check or store.
type accountRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// accountReply is the answer of GET /account.
type accountReply struct {
	User string `json:"user"`
}

// applyRequest names the client to configure.
type applyRequest struct {
	Client string `json:"client"`
}

// prefetchRequest names the image to prefetch.
type prefetchRequest struct {
	Ref string `json:"ref"`
}

// idleRequest says up to which request the window process has handled.
type idleRequest struct {
	Seq int `json:"seq"`
}

// idleReply says whether the window process may exit.
type idleReply struct {
	Exit bool `json:"exit"`
}

// toWire describes err for the other side; nil stays nil.
func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	we := &wireError{Message: err.Error(), AddrInUse: errors.Is(err, mirror.ErrAddrInUse),
		NoKeyring: errors.Is(err, ui.ErrKeyringUnavailable)}
	var fe *settings.FieldError
	if errors.As(err, &fe) && fe != nil {
		c := *fe
		we.Field = &c
	}
	return we
}

// server answers the window process's calls.
type server struct {
	b      ui.Backend
	h      Host
	w      *Windows
	routes map[string]route
}

// route is one call: the method it takes and what serves it.
type route struct {
	method string
	serve  func(http.ResponseWriter, *http.Request)
}

// NewHandler serves b, h and w to the window process. h or w may be nil:
// then /quit, or the /windows calls, answer 404. The handler's streams
// end when their request's context does, so an http.Server serving it
// must have no WriteTimeout, and its Close (not Shutdown alone) ends the
// streams still open.
func NewHandler(b ui.Backend, h Host, w *Windows) http.Handler {
	s := &server{b: b, h: h, w: w}
	get, post := http.MethodGet, http.MethodPost
	s.routes = map[string]route{
		pathSettings:        {get, s.settings},
		pathSaveSettings:    {post, s.saveSettings},
		pathUpdateSettings:  {post, s.updateSettings},
		pathSettingsUpdates: {get, s.settingsUpdates},
		pathStart:           {post, s.start},
		pathStop:            {post, s.stop},
		pathStatus:          {get, s.status},
		pathStatusUpdates:   {get, s.statusUpdates},
		pathAccount:         {get, s.account},
		pathSaveAccount:     {post, s.saveAccount},
		pathTestAccount:     {post, s.testAccount},
		pathRemoveAccount:   {post, s.removeAccount},
		pathCacheUsage:      {get, s.cacheUsage},
		pathVerifyCache:     {post, s.verifyCache},
		pathClearCache:      {post, s.clearCache},
		pathApplySetup:      {post, s.applySetup},
		pathPrefetch:        {post, s.prefetch},
		pathAbout:           {get, s.about},
	}
	if h != nil {
		s.routes[pathQuit] = route{post, s.quit}
	}
	if w != nil {
		s.routes[pathWindows] = route{get, s.windows}
		s.routes[pathIdle] = route{post, s.idle}
	}
	return s
}

// ServeHTTP routes a call, answering unknown paths with 404 and a wrong
// method with 405, both with a JSON error body.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		refuse(w, http.StatusNotFound, fmt.Sprintf("no such call: %s", r.URL.Path))
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		refuse(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, rt.method, r.Method))
		return
	}
	rt.serve(w, r)
}

// refuse answers a request the server cannot take with status and a reply
// whose error says why.
func refuse(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, reply{Error: &wireError{Message: message}})
}

// answer sends the backend's value and error as a 200 reply.
func answer(w http.ResponseWriter, value any, err error) {
	rep, merr := makeReply(value, err)
	if merr != nil {
		refuse(w, http.StatusInternalServerError, merr.Error())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// makeReply encodes value (nil for none) and err into a reply.
func makeReply(value any, err error) (reply, error) {
	rep := reply{Error: toWire(err)}
	if value != nil {
		raw, merr := json.Marshal(value)
		if merr != nil {
			return reply{}, fmt.Errorf("encode the answer: %w", merr)
		}
		rep.Value = raw
	}
	return rep, nil
}

// writeJSON sends v with status. A failed write means the window process
// went away; there is nobody left to tell.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"message":"cannot encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// decodeBody reads the request body into v, answering 400 when it is not
// what the call takes. The decoder's own message is not passed on: it
// could quote part of the body, and bodies may hold passwords.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		refuse(w, http.StatusBadRequest, fmt.Sprintf("%s: the request body cannot be read", r.URL.Path))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil || dec.More() {
		refuse(w, http.StatusBadRequest, fmt.Sprintf("%s: the request body is not the JSON this call takes", r.URL.Path))
		return false
	}
	return true
}

// settings answers the settings in force.
func (s *server) settings(w http.ResponseWriter, _ *http.Request) {
	answer(w, s.b.Settings(), nil)
}

// saveSettings validates, writes and applies the settings in the body.
func (s *server) saveSettings(w http.ResponseWriter, r *http.Request) {
	var in settings.Settings
	if !decodeBody(w, r, &in) {
		return
	}
	answer(w, nil, s.b.SaveSettings(in))
}

// updateSettings replays the window's edit on the settings file as it is
// now: only the top-level settings the edit changed are applied, so what
// the window left alone keeps what is on disk (a pin the CLI added
// meanwhile, say). It answers the settings then in force, with the error
// if any.
func (s *server) updateSettings(w http.ResponseWriter, r *http.Request) {
	var in updateRequest
	if !decodeBody(w, r, &in) {
		return
	}
	ch, err := diffSettings(in.Before, in.After)
	if err != nil {
		answer(w, s.b.Settings(), err)
		return
	}
	var editErr error
	got, err := s.b.UpdateSettings(func(cur *settings.Settings) { editErr = ch.apply(cur) })
	if err == nil && editErr != nil {
		err = editErr
	}
	answer(w, got, err)
}

// changes are the top-level settings (JSON keys) an edit set or removed.
type changes struct {
	set     map[string]json.RawMessage
	removed []string
}

// diffSettings finds the top-level JSON keys whose values differ between
// before and after. A key after lacks (an omitempty field emptied) counts
// as removed.
func diffSettings(before, after settings.Settings) (changes, error) {
	b, err := settingsMap(before)
	if err != nil {
		return changes{}, err
	}
	a, err := settingsMap(after)
	if err != nil {
		return changes{}, err
	}
	ch := changes{set: map[string]json.RawMessage{}}
	for k, v := range a {
		if old, ok := b[k]; !ok || !bytes.Equal(old, v) {
			ch.set[k] = v
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ch.removed = append(ch.removed, k)
		}
	}
	return ch, nil
}

// apply makes the changes to *cur. It decodes into fresh settings rather
// than into *cur so that a removed key really empties its field; on an
// error *cur is left as it was.
func (ch changes) apply(cur *settings.Settings) error {
	m, err := settingsMap(*cur)
	if err != nil {
		return err
	}
	for k, v := range ch.set {
		m[k] = v
	}
	for _, k := range ch.removed {
		delete(m, k)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("apply the window's edit: %w", err)
	}
	var next settings.Settings
	if err := json.Unmarshal(raw, &next); err != nil {
		return fmt.Errorf("apply the window's edit: %w", err)
	}
	*cur = next
	return nil
}

// settingsMap is s as its top-level JSON keys.
func settingsMap(s settings.Settings) (map[string]json.RawMessage, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode settings: %w", err)
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("encode settings: %w", err)
	}
	return m, nil
}

// settingsUpdates streams what the backend's SettingsUpdates delivers.
func (s *server) settingsUpdates(w http.ResponseWriter, r *http.Request) {
	ch, cancel := s.b.SettingsUpdates()
	defer cancel()
	streamValues(w, r, ch)
}

// statusUpdates streams what the backend's Subscribe delivers.
func (s *server) statusUpdates(w http.ResponseWriter, r *http.Request) {
	ch, cancel := s.b.Subscribe()
	defer cancel()
	streamValues(w, r, ch)
}

// streamValues sends each value from ch as a line until the request ends
// (the window process went away or the server closed), ch closes, or a
// write fails. The caller then cancels the backend's subscription, so
// nothing is left running.
func streamValues[T any](w http.ResponseWriter, r *http.Request, ch <-chan T) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", ndjson)
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case v, ok := <-ch:
			if !ok {
				return
			}
			if enc.Encode(v) != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// start runs the mirror.
func (s *server) start(w http.ResponseWriter, _ *http.Request) { answer(w, nil, s.b.Start()) }

// stop stops the mirror.
func (s *server) stop(w http.ResponseWriter, _ *http.Request) { answer(w, nil, s.b.Stop()) }

// status answers a status snapshot.
func (s *server) status(w http.ResponseWriter, _ *http.Request) { answer(w, s.b.Status(), nil) }

// account answers the stored username.
func (s *server) account(w http.ResponseWriter, _ *http.Request) {
	user, err := s.b.Account()
	answer(w, accountReply{User: user}, err)
}

// saveAccount checks and stores the account in the body.
func (s *server) saveAccount(w http.ResponseWriter, r *http.Request) {
	var in accountRequest
	if !decodeBody(w, r, &in) {
		return
	}
	answer(w, nil, s.b.SaveAccount(in.User, in.Password))
}

// testAccount checks the account in the body.
func (s *server) testAccount(w http.ResponseWriter, r *http.Request) {
	var in accountRequest
	if !decodeBody(w, r, &in) {
		return
	}
	answer(w, nil, s.b.TestAccount(in.User, in.Password))
}

// removeAccount deletes the stored account.
func (s *server) removeAccount(w http.ResponseWriter, _ *http.Request) {
	answer(w, nil, s.b.RemoveAccount())
}

// cacheUsage answers how full the cache is.
func (s *server) cacheUsage(w http.ResponseWriter, _ *http.Request) {
	answer(w, s.b.CacheUsage(), nil)
}

// clearCache empties the cache.
func (s *server) clearCache(w http.ResponseWriter, _ *http.Request) {
	answer(w, nil, s.b.ClearCache())
}

// applySetup configures the client in the body; the report goes back
// with the error, as it says what to do about it.
func (s *server) applySetup(w http.ResponseWriter, r *http.Request) {
	var in applyRequest
	if !decodeBody(w, r, &in) {
		return
	}
	report, err := s.b.ApplySetup(in.Client)
	answer(w, report, err)
}

// about answers the build and the app's files.
func (s *server) about(w http.ResponseWriter, _ *http.Request) { answer(w, s.b.About(), nil) }

// quit asks the host to quit the app; the answer goes out before the
// host's asynchronous work can end this process.
func (s *server) quit(w http.ResponseWriter, _ *http.Request) {
	s.h.Quit()
	answer(w, nil, nil)
}

// verifyCache streams the verification's progress, then the corrupt
// blobs' digests.
func (s *server) verifyCache(w http.ResponseWriter, _ *http.Request) {
	ps := startProgress(w)
	digests, err := s.b.VerifyCache(func(done, total int) { ps.report(int64(done), int64(total)) })
	ps.finish(digests, err)
}

// prefetch streams the download's progress, then its outcome.
func (s *server) prefetch(w http.ResponseWriter, r *http.Request) {
	var in prefetchRequest
	if !decodeBody(w, r, &in) {
		return
	}
	ps := startProgress(w)
	err := s.b.Prefetch(in.Ref, func(done, total int64) { ps.report(done, total) })
	ps.finish(nil, err)
}

// progressStream writes the frames of a progress stream. After a failed
// write it writes nothing more: the window process went away, and the
// backend's work, which cannot be cancelled, runs to its end unheard.
type progressStream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	enc    *json.Encoder
	broken bool
}

// startProgress sends the stream's header at once, so the client knows
// the call was taken before the first report.
func startProgress(w http.ResponseWriter) *progressStream {
	w.Header().Set("Content-Type", ndjson)
	w.WriteHeader(http.StatusOK)
	ps := &progressStream{w: w, rc: http.NewResponseController(w), enc: json.NewEncoder(w)}
	ps.broken = ps.rc.Flush() != nil
	return ps
}

// report sends one progress frame. It is called on the backend's goroutine
// for the call, which is the handler's.
func (ps *progressStream) report(done, total int64) {
	ps.send(frame{Progress: &progressReport{Done: done, Total: total}})
}

// finish sends the final frame with the outcome.
func (ps *progressStream) finish(value any, err error) {
	rep, merr := makeReply(value, err)
	if merr != nil {
		rep = reply{Error: toWire(merr)}
	}
	ps.send(frame{Reply: &rep})
}

// send writes and flushes one frame unless the stream broke before.
func (ps *progressStream) send(f frame) {
	if ps.broken {
		return
	}
	if ps.enc.Encode(f) != nil || ps.rc.Flush() != nil {
		ps.broken = true
	}
}

// windows is the window process's stream of window requests: it attaches
// the caller as the window process (replacing an earlier attachment) and
// sends what is pending, then each new request, until the process is
// told it may exit, exits, is replaced, or goes away.
func (s *server) windows(w http.ResponseWriter, r *http.Request) {
	a, err := s.w.attach()
	if err != nil {
		refuse(w, http.StatusConflict, err.Error())
		return
	}
	defer s.w.detach(a)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", ndjson)
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	enc := json.NewEncoder(w)
	for {
		batch, ok := s.w.take(a)
		if !ok {
			return
		}
		for i, req := range batch {
			if enc.Encode(req) != nil || rc.Flush() != nil {
				s.w.requeue(a, batch[i:])
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.done:
			return
		case <-a.wake:
		}
	}
}

// idle answers whether the window process, which shows no window and has
// handled the requests up to the body's seq, may exit.
func (s *server) idle(w http.ResponseWriter, r *http.Request) {
	var in idleRequest
	if !decodeBody(w, r, &in) {
		return
	}
	answer(w, idleReply{Exit: s.w.idle(in.Seq)}, nil)
}
