import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, type ResultInfo } from './api.js';
import { navigate } from './route.js';

/** An in-app link: a real `<a href>` (opens in a new tab, works with the keyboard) routed on the client. */
export function Link(props: { href: string; children: ComponentChildren; class?: string }) {
  const onClick = (e: JSX.TargetedMouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} class={props.class} onClick={onClick}>
      {props.children}
    </a>
  );
}

/** The API's refusal, word for word, with the field it points at. */
export function ErrorBox(props: { error: unknown; label?: string }) {
  const { error } = props;
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : String(error);
  const pointer = error instanceof ApiFailure ? error.pointer : undefined;
  return (
    <p class="error" role="alert">
      {props.label ? <strong>{props.label}: </strong> : null}
      <span class="error-message">{message}</span>
      {pointer ? (
        <span class="error-field">
          {' '}
          (field <code>{pointer}</code>)
        </span>
      ) : null}
    </p>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `key` changes (and on `reload`), keeping the last data while a new load runs. */
export function useLoad<T>(key: string, load: () => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    latest.current().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** A button that runs an API action, shows its refusal beside it, and reports success. */
export function useAction(): {
  busy: boolean;
  error: unknown;
  run: (action: () => Promise<unknown>, then?: () => void) => Promise<boolean>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async (action: () => Promise<unknown>, then?: () => void) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      then?.();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(undefined) };
}

export function Pager(props: {
  info: ResultInfo | undefined;
  label: string;
  onPage: (page: number) => void;
}) {
  const { info } = props;
  if (!info) return null;
  const last = Math.max(1, info.total_pages);
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" disabled={info.page <= 1} onClick={() => props.onPage(info.page - 1)}>
        Previous page
      </button>
      <span>
        Page {info.page} of {last} ({info.total_count} {props.label})
      </span>
      <button type="button" disabled={info.page >= last} onClick={() => props.onPage(info.page + 1)}>
        Next page
      </button>
    </nav>
  );
}

export const formatTime = (iso: string | undefined): string =>
  iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';

export const json = (value: unknown): string => JSON.stringify(value, null, 2);

/** `key=value` lines, as the tag fields take them. */
export function parseTags(text: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const at = trimmed.indexOf('=');
    if (at <= 0) throw new Error(`Tag "${trimmed}" is not key=value`);
    tags[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return tags;
}

export const formatTags = (tags: Record<string, string> | undefined): string =>
  Object.entries(tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');

/** A JSON object typed by hand; the message says what is wrong before anything is sent. */
export function parseMeta(text: string): { meta?: Record<string, unknown>; problem?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: `Not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problem: 'Meta must be a JSON object, like {"key": "value"}' };
  }
  return { meta: value as Record<string, unknown> };
}

/** A labelled JSON editor that checks the text as it is typed (and, given `check`, against a schema). */
export function MetaEditor(props: {
  id: string;
  label: string;
  value: string;
  onInput: (text: string) => void;
  check?: (meta: Record<string, unknown>) => string | undefined;
}) {
  const parsed = parseMeta(props.value);
  const problem = parsed.problem ?? (parsed.meta && props.check?.(parsed.meta));
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <textarea
        id={props.id}
        rows={4}
        spellcheck={false}
        value={props.value}
        aria-invalid={problem ? 'true' : 'false'}
        aria-describedby={problem ? `${props.id}-problem` : undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      {problem ? (
        <p class="problem" id={`${props.id}-problem`}>
          {problem}
        </p>
      ) : null}
    </div>
  );
}

/** A labelled, required credential input (never autofilled: secrets stay in this tab only). */
export function CredentialField(props: {
  id: string;
  label: string;
  type?: 'password' | 'email';
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type={props.type ?? 'password'}
        autocomplete="off"
        required
        value={props.value}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
    </div>
  );
}
