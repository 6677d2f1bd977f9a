export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function durationMs(start: string, end: string | null): number {
  const s = Date.parse(start);
  const e = end ? Date.parse(end) : Date.now();
  if (isNaN(s) || isNaN(e)) return 0;
  return Math.max(0, e - s);
}

export function fmtDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

/** A window of whole seconds as people write it: `45s`, `30m`, `1h`, `1h 30m`, `2d`. */
export function fmtSeconds(secs: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.round(secs));
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= n) {
      parts.push(`${Math.floor(rest / n)}${unit}`);
      rest %= n;
    }
  }
  return parts.length ? parts.join(' ') : '0s';
}

export function fmtUs(us: number | null | undefined): string {
  if (us == null) return '';
  const ms = us / 1000;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n == null) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function fmtOffset(startIso: string, atIso: string): string {
  const d = Date.parse(atIso) - Date.parse(startIso);
  if (isNaN(d)) return '';
  return `+${(d / 1000).toFixed(3)}s`;
}

/** Values masked by Ward's masking rules. */
export const MASKED_RE = /\[REDACTED:[a-z0-9_]+\]|\*{4}|\[[a-z0-9_]+:tok_[A-Za-z0-9_-]+\]/;

export function isMasked(v: unknown): boolean {
  return typeof v === 'string' && MASKED_RE.test(v);
}

/** datetime-local value (local time) <-> RFC3339 UTC. */
export function localToRfc3339(v: string): string {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d.getTime()) ? '' : d.toISOString();
}

export function rfc3339ToLocal(v: string | null): string {
  if (!v) return '';
  const d = new Date(v);
  if (isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The local time of day, `10:02:11`. */
export function fmtClock(iso: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The local day, `2026-11-25` (a key for grouping by day, and its heading). */
export function fmtDay(iso: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso.slice(0, 10);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
