// Thin client for Ward's JSON API (same origin, cookie auth + CSRF header).

import type { components } from './api.gen';

// The API's types are generated from its OpenAPI document (web/openapi.json, which `ward
// openapi` prints) into api.gen.ts by `npm run api`: never copied by hand.

type Schemas = components['schemas'];

export type Me = Schemas['Me'];
export type Session = Schemas['Session'];
export type SnippetPart = Schemas['Segment'];
export type Match = Schemas['Match'];
export type SessionList = Schemas['SessionList'];
export type Integrity = Schemas['Integrity'];
export type SessionDetail = Schemas['SessionDetail'];
/** A recorded event: `kind` narrows `payload` to that kind's type. */
export type WardEvent = Schemas['Event'];
export type EventPage = Schemas['EventPage'];
/** What the server offers to sign in with besides a password (`/api/v1/info`). */
export type ServerInfo = Schemas['Info'];
/** A request for access that a grant gives only with approval, with its reviews. */
export type AccessRequest = Schemas['AccessRequest'];
export type Review = Schemas['Review'];
export type RequestList = Schemas['RequestList'];
export type NewRequest = Schemas['NewRequest'];
/** A resource the viewer's grants name; an HTTP one with the URL it is reached at through Ward. */
export type Resource = Schemas['ResourceEntry'];
export type ResourceList = Schemas['ResourceList'];
/** A Ward token for opening an HTTP resource in the browser, and where to post it. */
export type Launch = Schemas['Launch'];
/** A person's timeline across their sessions (`GET /api/v1/activity`), oldest first. */
export type Activity = Schemas['Activity'];
export type ActivityItem = Schemas['ActivityItem'];
/** Where a statement or command that ran was proposed: an assistant's answer. */
export type Proposal = Schemas['Proposal'];

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';
let onUnauthenticated: (() => void) | null = null;

export function setCsrf(token: string): void {
  csrfToken = token;
}

/** Called when any request (other than login/me) gets a 401: the session expired. */
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

async function request<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', `Cannot reach Ward: ${(e as Error).message}`);
  }
  if (res.status === 204) return undefined as T;
  let data: unknown = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data ?? {}) as { error?: string; message?: string };
    const code = err.error ?? `http_${res.status}`;
    const message = err.message ?? defaultMessage(res.status, code);
    if (res.status === 401 && !opts.quiet401 && onUnauthenticated) onUnauthenticated();
    throw new ApiError(res.status, code, message);
  }
  return data as T;
}

/** GET a non-JSON resource (e.g. an asciicast); errors are JSON like every other call. */
async function requestText(path: string, accept: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(path, { headers: { Accept: `${accept}, application/json` }, credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'network', `Cannot reach Ward: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let err: { error?: string; message?: string } = {};
    try {
      err = JSON.parse(text) ?? {};
    } catch {
      /* not JSON */
    }
    const code = err.error ?? `http_${res.status}`;
    if (res.status === 401 && onUnauthenticated) onUnauthenticated();
    throw new ApiError(res.status, code, err.message ?? defaultMessage(res.status, code));
  }
  return text;
}

function defaultMessage(status: number, code: string): string {
  switch (code) {
    case 'bad_credentials':
      return 'Wrong username or password.';
    case 'rate_limited':
      return 'Too many attempts. Try again later.';
    case 'forbidden':
      return 'You are not allowed to view this.';
    case 'not_found':
      return 'Not found.';
    case 'unauthenticated':
      return 'Please sign in.';
  }
  return `Request failed (HTTP ${status}).`;
}

export const api = {
  info: () => request<ServerInfo>('GET', '/api/v1/info', undefined, { quiet401: true }),
  me: () => request<Me>('GET', '/api/v1/me', undefined, { quiet401: true }),
  login: (username: string, password: string) =>
    request<Me>('POST', '/api/v1/login', { username, password }, { quiet401: true }),
  logout: () => request<void>('POST', '/api/v1/logout', undefined, { quiet401: true }),
  sessions: (params: Record<string, string>) => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) qs.set(k, v);
    return request<SessionList>('GET', `/api/v1/sessions?${qs.toString()}`);
  },
  session: (id: string) => request<SessionDetail>('GET', `/api/v1/sessions/${encodeURIComponent(id)}`),
  events: (id: string, afterSeq: number, limit = 200) =>
    request<EventPage>(
      'GET',
      `/api/v1/sessions/${encodeURIComponent(id)}/events?after_seq=${afterSeq}&limit=${limit}`,
    ),
  terminate: (id: string, reason: string) =>
    request<void>('POST', `/api/v1/sessions/${encodeURIComponent(id)}/terminate`, { reason }),
  exportUrl: (id: string) => `/api/v1/sessions/${encodeURIComponent(id)}/export`,
  asciicastUrl: (id: string) => `/api/v1/sessions/${encodeURIComponent(id)}/export?format=asciicast`,
  asciicast: (id: string) => requestText(api.asciicastUrl(id), 'application/x-asciicast'),
  requests: (state: string) =>
    request<RequestList>('GET', state ? `/api/v1/requests?state=${encodeURIComponent(state)}` : '/api/v1/requests'),
  accessRequest: (id: string) => request<AccessRequest>('GET', `/api/v1/requests/${encodeURIComponent(id)}`),
  askAccess: (body: NewRequest) => request<AccessRequest>('POST', '/api/v1/requests', body),
  /** Approve (comment optional) or deny (comment required) a pending request. */
  review: (id: string, approve: boolean, comment: string) =>
    request<AccessRequest>('POST', `/api/v1/requests/${encodeURIComponent(id)}/${approve ? 'approve' : 'deny'}`, {
      comment: comment || null,
    }),
  resources: () => request<ResourceList>('GET', '/api/v1/resources'),
  /** Issues a token for the viewer to post (form field `token`) to the resource's `launch` URL. */
  openResource: (name: string) => request<Launch>('POST', `/api/v1/resources/${encodeURIComponent(name)}/open`),
  /**
   * Where a form posts that token (field `token`) in a new tab: Ward's page that posts it on to
   * `launch` on the HTTP listener (an HTML page, not JSON).
   */
  launchPage: (name: string) => `/api/v1/resources/${encodeURIComponent(name)}/launch`,
  /** `user` (default: the viewer) since `since` (`24h`, `7d`, or an RFC 3339 time; default 24h). */
  activity: (user: string, since: string) => {
    const qs = new URLSearchParams();
    if (user) qs.set('user', user);
    if (since) qs.set('since', since);
    return request<Activity>('GET', `/api/v1/activity?${qs.toString()}`);
  },
};
