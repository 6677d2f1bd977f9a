import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { api, ApiError, Session } from '../api';

/**
 * Player for asciicast v2 recordings (ssh sessions), built on xterm.js (DOM renderer, so the
 * visible text is in the DOM and works under Ward's CSP: no eval/wasm, no external fonts).
 * asciinema-player 3.x was not used: its terminal emulator is WebAssembly, which Ward's CSP
 * (`default-src 'self'`, no 'wasm-unsafe-eval') refuses to compile.
 */

type Ev = { t: number; code: string; data: string };
interface Cast {
  width: number;
  height: number;
  title?: string;
  events: Ev[];
}

const IDLE_LIMIT = 2; // seconds, for "skip idle"
const SPEEDS = [0.5, 1, 2, 4, 8];

export function parseAsciicast(text: string): Cast {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (!lines.length) throw new Error('empty recording');
  const header = JSON.parse(lines[0]);
  if (!header || header.version !== 2) throw new Error('not an asciicast v2 file');
  const events: Ev[] = [];
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
  return { width: header.width || 80, height: header.height || 24, title: header.title, events };
}

/** Event times with gaps longer than `limit` seconds shortened to `limit`. */
function compressIdle(events: Ev[], limit: number): Ev[] {
  let prev = 0;
  let shift = 0;
  return events.map((e) => {
    const gap = e.t - prev;
    if (gap > limit) shift += gap - limit;
    prev = e.t;
    return { ...e, t: e.t - shift };
  });
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

export function TerminalPlayer({ session }: { session: Session }) {
  const url = api.asciicastUrl(session.id);
  const [cast, setCast] = useState<Cast | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [playing, setPlaying] = useState(false);
  const [pos, setPos] = useState(0); // current time, in the (possibly idle-compressed) timeline
  const [speed, setSpeed] = useState(1);
  const [skipIdle, setSkipIdle] = useState(true);
  const [copied, setCopied] = useState<string | null>(null);

  const hostRef = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const applied = useRef(0); // number of events written to the terminal
  const posRef = useRef(0);

  // load the recording
  useEffect(() => {
    let cancelled = false;
    setCast(null);
    setError(null);
    api
      .asciicast(session.id)
      .then(parseAsciicast)
      .then((c) => !cancelled && setCast(c))
      .catch((e: Error) => {
        if (cancelled) return;
        const status = e instanceof ApiError ? e.status : 0;
        setError(
          status === 403
            ? 'You may not replay this session.'
            : status === 404
              ? 'No terminal recording is available for this session.'
              : `Could not load the recording: ${e.message}`,
        );
      });
    return () => {
      cancelled = true;
    };
  }, [session.id]);

  const events = useMemo(() => (cast ? (skipIdle ? compressIdle(cast.events, IDLE_LIMIT) : cast.events) : []), [cast, skipIdle]);
  const duration = events.length ? events[events.length - 1].t : 0;
  const markers = useMemo(
    () => events.map((e, i) => ({ ...e, i })).filter((e) => e.code === 'm'),
    [events],
  );
  const fullText = useMemo(
    () => (cast ? stripAnsi(cast.events.filter((e) => e.code === 'o').map((e) => e.data).join('')) : ''),
    [cast],
  );

  // create the terminal once the recording is known
  useEffect(() => {
    if (!cast || !hostRef.current) return;
    const term = new Terminal({
      cols: cast.width,
      rows: cast.height,
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
    return () => {
      term.dispose();
      termRef.current = null;
    };
  }, [cast]);

  /** Bring the terminal to time `t` (rewinds by resetting and replaying). */
  const render = (t: number) => {
    const term = termRef.current;
    if (!term || !cast) return;
    const evs = events;
    let i = applied.current;
    if (i > 0 && i <= evs.length && evs[i - 1].t > t) {
      term.reset();
      term.resize(cast.width, cast.height);
      i = 0;
    }
    let out = '';
    for (; i < evs.length && evs[i].t <= t; i++) {
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

  // the events timeline changed (skip idle toggled): map the position and replay
  const prevEvents = useRef<Ev[]>([]);
  useEffect(() => {
    if (!cast || !termRef.current) return;
    const old = prevEvents.current;
    prevEvents.current = events;
    // keep position at the same event index
    let t = 0;
    if (old.length && old !== events) {
      const idx = applied.current;
      t = idx > 0 ? events[Math.min(idx, events.length) - 1].t : 0;
    }
    termRef.current.reset();
    termRef.current.resize(cast.width, cast.height);
    applied.current = 0;
    render(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [events, cast]);

  // playback clock
  useEffect(() => {
    if (!playing) return;
    let last = performance.now();
    let raf = 0;
    const tick = (now: number) => {
      const next = posRef.current + ((now - last) / 1000) * speed;
      last = now;
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
  }, [playing, speed, duration, events]);

  const togglePlay = () => {
    if (!playing && posRef.current >= duration) render(0);
    setPlaying(!playing);
  };

  const seek = (t: number) => render(Math.max(0, Math.min(duration, t)));

  const doCopy = () => {
    copyText(fullText).then(
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
  if (!cast) return <p class="muted">Loading recording…</p>;

  return (
    <div class="term-wrap">
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
        <button type="button" class="btn" data-testid="terminal-seek-end" onClick={() => { setPlaying(false); seek(duration); }}>
          Jump to end ⇥
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
        <div class="term-screen" data-testid="terminal-player" data-position={pos.toFixed(2)} data-duration={duration.toFixed(2)} ref={hostRef} />
        <div class="term-markers">
          <h3>Commands ({markers.length})</h3>
          {markers.length === 0 ? (
            <p class="muted small">No command markers in this recording.</p>
          ) : (
            <ol data-testid="terminal-markers">
              {markers.map((m) => (
                <li key={m.i}>
                  <button
                    type="button"
                    class={`btn-link term-marker${pos >= m.t && (markers.find((x) => x.t > m.t)?.t ?? Infinity) > pos ? ' current' : ''}`}
                    data-testid="terminal-marker"
                    data-time={m.t.toFixed(2)}
                    onClick={() => seek(m.t)}
                  >
                    <span class="mono small muted">{fmtClock(m.t)}</span> <span class="mono">{m.data}</span>
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
