import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { api, ApiError, Session, WardEvent } from '../api';

/**
 * Player for asciicast v2 recordings (ssh sessions), built on xterm.js (DOM renderer, so the
 * visible text is in the DOM and works under Ward's CSP: no eval/wasm, no external fonts).
 * asciinema-player 3.x was not used: its terminal emulator is WebAssembly, which Ward's CSP
 * (`default-src 'self'`, no 'wasm-unsafe-eval') refuses to compile.
 *
 * An ended session is read from its asciicast export. A session still live when opened is read
 * from its events instead (`after_seq` paging, converted as the export converts them), and then
 * followed: its new events are fetched about once a second and written to the terminal as they
 * arrive, until its `session.end` (or until the page learns it ended); then it plays like any other.
 * Pausing the follow freezes the view (play and seek work on what has arrived) while the new events
 * are still read; following again shows the end.
 */

/** An asciicast event (`o` output, `r` resize `COLSxROWS`, `m` marker) at `t` seconds from the
 * start, and at `ti` with idle gaps longer than IDLE_LIMIT shortened to IDLE_LIMIT. */
type Ev = { t: number; ti: number; code: string; data: string };

const IDLE_LIMIT = 2; // seconds, for "skip idle"
const SPEEDS = [0.5, 1, 2, 4, 8];
const PAGE = 1000; // events per request while following: the API's most (a page also stops at 8 MiB)
const POLL_MS = 1000; // how often a followed session is asked for new events
const RETRY_MS = 5000; // after a failed poll

/**
 * A recording as the player reads it. It grows while a live session is followed: adding events
 * costs only the new ones (times, idle compression and markers are kept as they come).
 */
class Recording {
  events: Ev[] = [];
  /** Indices of the `m` events. */
  markers: number[] = [];
  private shift = 0; // idle time cut so far

  constructor(
    public width: number,
    public height: number,
  ) {}

  add(t: number, code: string, data: string): void {
    const last = this.events.length ? this.events[this.events.length - 1].t : 0;
    if (t < last) t = last; // keep the order even if a clock stepped back
    if (t - last > IDLE_LIMIT) this.shift += t - last - IDLE_LIMIT;
    if (code === 'm') this.markers.push(this.events.length);
    this.events.push({ t, ti: t - this.shift, code, data });
  }
}

export function parseAsciicast(text: string): Recording {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (!lines.length) throw new Error('empty recording');
  const header = JSON.parse(lines[0]);
  if (!header || header.version !== 2) throw new Error('not an asciicast v2 file');
  const events: { t: number; code: string; data: string }[] = [];
  for (const line of lines.slice(1)) {
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      continue; // a truncated last line of a still-running session
    }
    if (Array.isArray(e) && typeof e[0] === 'number' && typeof e[1] === 'string') {
      events.push({ t: e[0], code: e[1], data: String(e[2] ?? '') });
    }
  }
  events.sort((a, b) => a.t - b.t);
  const rec = new Recording(header.width || 80, header.height || 24);
  for (const e of events) rec.add(e.t, e.code, e.data);
  return rec;
}

/** What reading a page of a live session's events did. */
type Pulled = { added: number; more: boolean; ended: boolean };

type TermOutput = Extract<WardEvent, { kind: 'term.output' }>['payload'];

/** What a `term.output` showed, as Ward's asciicast export writes it (`output_text`). */
function outputText(p: TermOutput): string {
  if (p.data != null) return p.data;
  if (p.bytes_not_stored != null) return `\r\n[Ward: ${p.bytes_not_stored} more bytes of output, not stored]\r\n`;
  if (!p.data_b64) return '';
  try {
    const bin = atob(p.data_b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder().decode(bytes); // invalid UTF-8 becomes U+FFFD, as in the export
  } catch {
    return '';
  }
}

/** Milliseconds since the epoch of an RFC 3339 time (any number of fraction digits), or NaN. */
function epochMs(at: string): number {
  return Date.parse(at.replace(/(\.\d{3})\d+/, '$1'));
}

function validSize(cols: number, rows: number): boolean {
  return cols > 0 && rows > 0;
}

/**
 * The recording of a session's first page of events: its size is the first one recorded in that
 * page (a terminal's size comes with its request, at the start), as in the export's header.
 */
function recordingFrom(events: WardEvent[]): { rec: Recording; headerSeq: number | null } {
  for (const e of events) {
    if (e.kind === 'term.resize' && validSize(e.payload.cols, e.payload.rows)) {
      return { rec: new Recording(e.payload.cols, e.payload.rows), headerSeq: e.seq };
    }
  }
  return { rec: new Recording(80, 24), headerSeq: null };
}

/** Adds a page of a session's events to `rec`, converted as Ward's asciicast export does. */
function addEvents(rec: Recording, startMs: number, events: WardEvent[], headerSeq: number | null): void {
  for (const e of events) {
    const ms = epochMs(e.at);
    const t = Number.isFinite(ms) && Number.isFinite(startMs) ? Math.max(0, (ms - startMs) / 1000) : 0;
    switch (e.kind) {
      case 'term.output':
        rec.add(t, 'o', outputText(e.payload));
        break;
      case 'term.resize':
        if (e.seq !== headerSeq && validSize(e.payload.cols, e.payload.rows)) {
          rec.add(t, 'r', `${e.payload.cols}x${e.payload.rows}`);
        }
        break;
      case 'exec.command': {
        const c = e.payload;
        rec.add(t, 'm', c.shell != null ? 'shell' : c.subsystem != null ? `subsystem ${c.subsystem}` : `$ ${c.command ?? ''}`);
        break;
      }
    }
  }
}

// CSI / OSC / other ESC sequences, then remaining C0 controls except \n and \t
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[ -\/]*[0-~]/g;

export function stripAnsi(s: string): string {
  return (
    s
      .replace(ANSI, '')
      .replace(/\r\n/g, '\n')
      .replace(/\r/g, '\n')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
}

function parseSize(data: string): [number, number] | null {
  const m = /^(\d+)x(\d+)$/.exec(data.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function fmtClock(s: number): string {
  const t = Math.max(0, Math.floor(s));
  const m = Math.floor(t / 60);
  const sec = String(t % 60).padStart(2, '0');
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // fall back below (non-secure context, permission denied)
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('copy failed');
}

function loadError(e: Error): string {
  const status = e instanceof ApiError ? e.status : 0;
  return status === 403
    ? 'You may not replay this session.'
    : status === 404
      ? 'No terminal recording is available for this session.'
      : `Could not load the recording: ${e.message}`;
}

/**
 * `onEnded` is called when a followed session's `session.end` arrives (the page may read the
 * session again). Mount one player per session (the page keys it by the session's id).
 */
export function TerminalPlayer({ session, onEnded }: { session: Session; onEnded?: () => void }) {
  const url = api.asciicastUrl(session.id);
  // Live when opened: read from its events and followed.
  const [viaEvents] = useState(session.live);
  const [rec, setRec] = useState<Recording | null>(null);
  const [, setGrown] = useState(0); // bumped when a followed recording grows
  const [error, setError] = useState<string | null>(null);
  const [streaming, setStreaming] = useState(viaEvents); // still reading new events
  const [follow, setFollow] = useState(true);
  const [pollError, setPollError] = useState<string | null>(null);
  const [playing, setPlaying] = useState(false);
  const [pos, setPos] = useState(0); // current time, in the (possibly idle-compressed) timeline
  const [speed, setSpeed] = useState(1);
  const [skipIdle, setSkipIdle] = useState(true);
  const [copied, setCopied] = useState<string | null>(null);

  const hostRef = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const recRef = useRef<Recording | null>(null);
  const applied = useRef(0); // number of events written to the terminal
  const posRef = useRef(0);
  const skipIdleRef = useRef(skipIdle);
  skipIdleRef.current = skipIdle;
  const followRef = useRef(follow);
  followRef.current = follow;
  const onEndedRef = useRef(onEnded);
  onEndedRef.current = onEnded;
  // Following: the last seq read, its first page's header resize, the request under way.
  const afterSeq = useRef(0);
  const headerSeq = useRef<number | null>(null);
  const inflight = useRef<Promise<Pulled> | null>(null);

  const timeOf = (e: Ev) => (skipIdleRef.current ? e.ti : e.t);
  const end = () => {
    const evs = recRef.current?.events;
    return evs && evs.length ? timeOf(evs[evs.length - 1]) : 0;
  };

  /** Bring the terminal to time `t` (rewinds by resetting and replaying; forward writes only
   * the events not written yet). */
  const render = (t: number) => {
    const term = termRef.current;
    const r = recRef.current;
    if (!term || !r) return;
    const evs = r.events;
    let i = applied.current;
    if (i > 0 && i <= evs.length && timeOf(evs[i - 1]) > t) {
      term.reset();
      term.resize(r.width, r.height);
      i = 0;
    }
    let out = '';
    for (; i < evs.length && timeOf(evs[i]) <= t; i++) {
      const e = evs[i];
      if (e.code === 'o') out += e.data;
      else if (e.code === 'r') {
        const sz = parseSize(e.data);
        if (sz) {
          if (out) term.write(out);
          out = '';
          term.resize(sz[0], sz[1]);
        }
      }
    }
    if (out) term.write(out);
    applied.current = i;
    posRef.current = t;
    setPos(t);
  };

  // an ended session: load its asciicast
  useEffect(() => {
    if (viaEvents) return;
    let cancelled = false;
    api
      .asciicast(session.id)
      .then(parseAsciicast)
      .then((r) => {
        if (cancelled) return;
        recRef.current = r;
        setRec(r);
      })
      .catch((e: Error) => !cancelled && setError(loadError(e)));
    return () => {
      cancelled = true;
    };
  }, [session.id]);

  /** The next page of a live session's events, added to the recording. */
  const pull = async (): Promise<Pulled> => {
    const page = await api.events(session.id, afterSeq.current, PAGE);
    const fresh = page.events.filter((e) => e.seq > afterSeq.current);
    if (fresh.length) afterSeq.current = fresh[fresh.length - 1].seq;
    let r = recRef.current;
    if (!r) {
      const first = recordingFrom(fresh);
      r = first.rec;
      headerSeq.current = first.headerSeq;
      recRef.current = r;
      setRec(r);
    }
    addEvents(r, epochMs(session.started_at), fresh, headerSeq.current);
    return {
      added: fresh.length,
      more: page.next_after_seq != null,
      ended: fresh.some((e) => e.kind === 'session.end'),
    };
  };

  // a live session: read its events a page at a time (back to back while pages are full, then
  // every POLL_MS) until its `session.end`, or until the page says it ended and the last page
  // is read; each page is written to the terminal while following.
  useEffect(() => {
    if (!streaming) return;
    let stopped = false;
    let timer = 0;
    const tick = async () => {
      let res: Pulled;
      try {
        // one request at a time, shared with a run of this effect that was just replaced
        const p = inflight.current ?? pull();
        inflight.current = p;
        try {
          res = await p;
        } finally {
          if (inflight.current === p) inflight.current = null;
        }
      } catch (e) {
        if (stopped) return;
        if (!recRef.current) {
          setError(loadError(e as Error));
          setStreaming(false);
          return;
        }
        setPollError((e as Error).message);
        timer = window.setTimeout(tick, RETRY_MS);
        return;
      }
      if (res.added) {
        if (followRef.current) render(end());
        setGrown((n) => n + 1);
      }
      if (stopped) return;
      setPollError(null);
      if (res.ended || (!session.live && !res.more)) {
        setStreaming(false);
        if (res.ended) onEndedRef.current?.();
        return;
      }
      timer = window.setTimeout(tick, res.more ? 0 : POLL_MS);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [streaming, session.live]);

  // create the terminal once the recording is known; a followed one shows its end
  useEffect(() => {
    if (!rec || !hostRef.current) return;
    const term = new Terminal({
      cols: rec.width,
      rows: rec.height,
      disableStdin: true,
      convertEol: false,
      cursorBlink: false,
      scrollback: 1000,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      fontSize: 13,
      theme: { background: '#1b1f24', foreground: '#e6e6e6' },
    });
    term.open(hostRef.current);
    termRef.current = term;
    applied.current = 0;
    render(viaEvents && followRef.current ? end() : 0);
    return () => {
      term.dispose();
      termRef.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rec]);

  // "skip idle" toggled: the timeline changed; keep the position at the same event and replay
  const prevSkip = useRef(skipIdle);
  useEffect(() => {
    if (prevSkip.current === skipIdle) return;
    prevSkip.current = skipIdle;
    const term = termRef.current;
    const r = recRef.current;
    if (!term || !r) return;
    const idx = Math.min(applied.current, r.events.length);
    const t = idx > 0 ? timeOf(r.events[idx - 1]) : 0;
    term.reset();
    term.resize(r.width, r.height);
    applied.current = 0;
    render(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [skipIdle]);

  // playback clock
  useEffect(() => {
    if (!playing) return;
    let last = performance.now();
    let raf = 0;
    const tick = (now: number) => {
      const next = posRef.current + ((now - last) / 1000) * speed;
      last = now;
      const duration = end();
      if (next >= duration) {
        render(duration);
        setPlaying(false);
        return;
      }
      render(next);
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [playing, speed]);

  const duration = rec ? end() : 0;
  const following = streaming && follow;

  /** Resume following a live session: show its end, and each new page as it arrives. */
  const resumeFollow = () => {
    setPlaying(false);
    followRef.current = true;
    setFollow(true);
    render(end());
  };

  const stopFollowing = () => {
    followRef.current = false;
    setFollow(false);
  };

  const togglePlay = () => {
    if (following) stopFollowing();
    if (!playing && posRef.current >= end()) render(0);
    setPlaying(!playing);
  };

  const seek = (t: number) => {
    if (following) stopFollowing();
    render(Math.max(0, Math.min(end(), t)));
  };

  const seekEnd = () => {
    if (streaming) return resumeFollow();
    setPlaying(false);
    seek(end());
  };

  const doCopy = () => {
    const text = stripAnsi((recRef.current?.events ?? []).filter((e) => e.code === 'o').map((e) => e.data).join(''));
    copyText(text).then(
      () => setCopied('Copied'),
      () => setCopied('Copy failed'),
    );
    setTimeout(() => setCopied(null), 2000);
  };

  const download = (
    <a class="btn" href={url} download={`ward-session-${session.id}.cast`} data-testid="terminal-download">
      ⬇ Download asciicast
    </a>
  );

  if (error) {
    return (
      <div class="term-wrap">
        <div class="banner banner-error" role="alert" data-testid="terminal-error">
          {error}
        </div>
        <div class="term-controls">{download}</div>
      </div>
    );
  }
  if (!rec) return <p class="muted">Loading recording…</p>;

  const markers = rec.markers.map((i) => ({ i, t: timeOf(rec.events[i]), label: rec.events[i].data }));
  let current = -1; // the last marker at or before the position
  for (let k = 0; k < markers.length && markers[k].t <= pos; k++) current = k;

  return (
    <div class="term-wrap">
      {viaEvents && (
        <div class="term-live" role="group" aria-label="Live session">
          {streaming ? (
            <>
              <span
                class="badge badge-live"
                role="status"
                data-testid="terminal-live"
                data-state={follow ? 'following' : 'paused'}
                title={follow ? 'New output is shown as it is recorded' : 'Following is paused'}
              >
                <span class="dot" aria-hidden="true" /> Live{follow ? '' : ' · paused'}
              </span>
              <button
                type="button"
                class="btn"
                data-testid="terminal-follow"
                aria-pressed={follow}
                onClick={() => (follow ? stopFollowing() : resumeFollow())}
              >
                {follow ? '❚❚ Pause following' : '⇥ Follow live'}
              </button>
              <span class="small muted">
                {follow ? 'Showing new output as it is recorded.' : 'Paused: new output is still read; “Follow live” shows it.'}
              </span>
            </>
          ) : (
            <span class="badge" role="status" data-testid="terminal-live" data-state="ended">
              Session ended
            </span>
          )}
          {pollError && (
            <span class="small err" role="alert" data-testid="terminal-poll-error">
              Could not read new output: {pollError} (retrying)
            </span>
          )}
        </div>
      )}
      <div class="term-controls" role="group" aria-label="Playback">
        <button type="button" class="btn" data-testid="terminal-play" aria-pressed={playing} onClick={togglePlay}>
          {playing ? '❚❚ Pause' : '▶ Play'}
        </button>
        <input
          type="range"
          class="term-seek"
          aria-label="Position"
          data-testid="terminal-seek"
          min={0}
          max={duration || 0}
          step={0.01}
          value={pos}
          onInput={(e) => seek(Number((e.target as HTMLInputElement).value))}
        />
        <span class="mono small term-clock" data-testid="terminal-time">
          {fmtClock(pos)} / {fmtClock(duration)}
        </span>
        <button type="button" class="btn" data-testid="terminal-seek-end" onClick={seekEnd}>
          {streaming ? 'Jump to live ⇥' : 'Jump to end ⇥'}
        </button>
        <select
          aria-label="Speed"
          data-testid="terminal-speed"
          value={String(speed)}
          onChange={(e) => setSpeed(Number((e.target as HTMLSelectElement).value))}
        >
          {SPEEDS.map((s) => (
            <option key={s} value={String(s)}>
              {s}×
            </option>
          ))}
        </select>
        <label class="term-check">
          <input
            type="checkbox"
            data-testid="terminal-skip-idle"
            checked={skipIdle}
            onChange={(e) => setSkipIdle((e.target as HTMLInputElement).checked)}
          />
          Skip idle (&gt; {IDLE_LIMIT} s)
        </label>
        <span class="term-spacer" />
        <button type="button" class="btn" data-testid="terminal-copy" onClick={doCopy}>
          Copy text
        </button>
        {copied && <span class="small muted" role="status">{copied}</span>}
        {download}
      </div>
      <div class="term-body">
        <div
          class="term-screen"
          data-testid="terminal-player"
          data-position={pos.toFixed(2)}
          data-duration={duration.toFixed(2)}
          data-following={following ? 'true' : undefined}
          ref={hostRef}
        />
        <div class="term-markers">
          <h3>Commands ({markers.length})</h3>
          {markers.length === 0 ? (
            <p class="muted small">No command markers in this recording.</p>
          ) : (
            <ol data-testid="terminal-markers">
              {markers.map((m, k) => (
                <li key={m.i}>
                  <button
                    type="button"
                    class={`btn-link term-marker${k === current ? ' current' : ''}`}
                    data-testid="terminal-marker"
                    data-time={m.t.toFixed(2)}
                    onClick={() => seek(m.t)}
                  >
                    <span class="mono small muted">{fmtClock(m.t)}</span> <span class="mono">{m.label}</span>
                  </button>
                </li>
              ))}
            </ol>
          )}
        </div>
      </div>
    </div>
  );
}
