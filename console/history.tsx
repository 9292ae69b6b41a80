import { useState } from 'preact/hooks';
import { api, type AuditEntry } from './api.js';
import { paths } from './route.js';
import { ErrorBox, Link, formatTime, json, useLoad } from './ui.js';

/** Wide enough for any clock the emulator panel can set. */
const SINCE = '1970-01-01T00:00:00Z';
const BEFORE = '9999-12-31T00:00:00Z';

interface V1Entry {
  id: string;
  oldValue?: string;
  newValue?: string;
}

interface Row extends AuditEntry {
  old?: unknown;
  new?: unknown;
}

const parse = (text: string | undefined): unknown => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

function who(e: AuditEntry): string {
  const a = e.actor;
  if (a.type === 'system') return 'rshare (system)';
  if (a.token_name) return `token ${a.token_name}`;
  return a.email ?? a.id ?? a.type;
}

/**
 * The share's audit entries, newest first: version 2 with rshare's `share_id` filter, a page (cursor) at a
 * time; each entry's old and new values come from version 1 by the same id (version 2 carries only the new).
 */
export function HistoryView(props: { account: string; share: string }) {
  const { account, share } = props;
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const entries = useLoad(`${account}|${share}|${cursor ?? ''}`, async () => {
    const { result, info } = await api<AuditEntry[]>('GET', `/accounts/${account}/logs/audit`, {
      query: { since: SINCE, before: BEFORE, share_id: share, direction: 'desc', limit: 20, cursor },
    });
    const rows: Row[] = await Promise.all(
      result.map(async (e) => {
        const { result: v1 } = await api<V1Entry[]>('GET', `/accounts/${account}/audit_logs`, {
          query: { id: e.id },
        });
        const found = v1[0];
        return { ...e, old: parse(found?.oldValue), new: parse(found?.newValue) };
      }),
    );
    return { rows, next: (info as { cursor?: string } | undefined)?.cursor };
  });

  return (
    <>
      <p class="crumbs">
        <Link href={paths.accounts()}>Accounts</Link> / <Link href={paths.shares(account)}>{account}</Link> /{' '}
        <Link href={paths.share(account, share)}>share {share}</Link> / history
      </p>
      <h1>History of share {share}</h1>
      <ErrorBox error={entries.error} />
      <ol class="timeline" aria-label="Audit entries, newest first">
        {(entries.data?.rows ?? []).map((e) => (
          <li key={e.id} class={`entry entry-${e.action.result}`}>
            <p class="entry-head">
              <time dateTime={e.action.time}>{formatTime(e.action.time)}</time> ·{' '}
              <strong>{e.action.description}</strong> ({e.action.type}, {e.action.result}) by {who(e)}
            </p>
            <p class="entry-what">
              {e.resource.type} <code>{e.resource.id}</code>
            </p>
            {e.old !== undefined || e.new !== undefined ? (
              <div class="diff">
                <div>
                  <span class="diff-label">old</span>
                  <pre class="json">{e.old === undefined ? '—' : json(e.old)}</pre>
                </div>
                <span aria-hidden="true">→</span>
                <div>
                  <span class="diff-label">new</span>
                  <pre class="json">{e.new === undefined ? '—' : json(e.new)}</pre>
                </div>
              </div>
            ) : null}
          </li>
        ))}
      </ol>
      {entries.data && entries.data.rows.length === 0 ? <p>No entries.</p> : null}
      <nav class="pager" aria-label="History pages">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Newer entries
        </button>
        <button
          type="button"
          disabled={!entries.data?.next}
          onClick={() => entries.data?.next && setCursors([...cursors, entries.data.next])}
        >
          Older entries
        </button>
      </nav>
    </>
  );
}
