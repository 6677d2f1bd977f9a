// Minimal history-API router: the URL is the source of truth.
import { useEffect, useState } from 'preact/hooks';

const EVT = 'ward:navigate';

export function navigate(url: string, replace = false): void {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.dispatchEvent(new Event(EVT));
  if (!replace) window.scrollTo(0, 0);
}

export interface Loc {
  path: string;
  query: URLSearchParams;
  search: string;
}

function current(): Loc {
  return { path: location.pathname, query: new URLSearchParams(location.search), search: location.search };
}

export function useLocation(): Loc {
  const [loc, setLoc] = useState<Loc>(current);
  useEffect(() => {
    const update = () => setLoc(current());
    window.addEventListener('popstate', update);
    window.addEventListener(EVT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(EVT, update);
    };
  }, []);
  return loc;
}

/** onClick handler for <a href> that keeps navigation in the SPA (allows ctrl/middle-click). */
export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.currentTarget as HTMLAnchorElement;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? '/');
}
