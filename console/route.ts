import { useEffect, useState } from 'preact/hooks';

/** Client-side routes under /console (the server answers index.html for every one of them). */
export const BASE = '/console';

export type Route =
  | { view: 'accounts' }
  | { view: 'shares'; account: string }
  | { view: 'create'; account: string }
  | { view: 'share'; account: string; share: string }
  | { view: 'history'; account: string; share: string }
  | { view: 'emulator' }
  | { view: 'missing' };

export function parse(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  const [a, account, b, share, c] = parts;
  if (parts.length === 0) return { view: 'accounts' };
  if (parts.length === 1 && a === 'emulator') return { view: 'emulator' };
  if (a !== 'accounts' || account === undefined) return { view: 'missing' };
  if (parts.length === 2) return { view: 'shares', account };
  if (parts.length === 3 && b === 'new') return { view: 'create', account };
  if (b === 'shares' && share !== undefined && parts.length === 4) return { view: 'share', account, share };
  if (b === 'shares' && share !== undefined && c === 'history' && parts.length === 5) {
    return { view: 'history', account, share };
  }
  return { view: 'missing' };
}

export const paths = {
  accounts: () => BASE,
  shares: (account: string) => `${BASE}/accounts/${account}`,
  create: (account: string) => `${BASE}/accounts/${account}/new`,
  share: (account: string, share: string) => `${BASE}/accounts/${account}/shares/${share}`,
  history: (account: string, share: string) => `${BASE}/accounts/${account}/shares/${share}/history`,
  emulator: () => `${BASE}/emulator`,
};

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const l of listeners) l();
}

/** The current location (path and query), re-rendering on navigation and on back/forward. */
export function useLocation(): { pathname: string; search: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return { pathname: location.pathname, search: new URLSearchParams(location.search) };
}
