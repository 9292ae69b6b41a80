import { useEffect, useState } from 'preact/hooks';
import { api, canEdit, type Share } from './api.js';
import { useResourceTypes } from './resource-types.js';
import { navigate, paths, useLocation } from './route.js';
import { ErrorBox, Link, Pager, formatTime, useLoad } from './ui.js';

type Filter = 'kind' | 'status' | 'target_type' | 'resource_type' | 'tag' | 'order' | 'direction';

/** Whether this credential may edit in the account (the probe in api.ts), undefined while asking. */
export function useCanEdit(account: string): boolean | undefined {
  const [state, setState] = useState<{ account: string; edit: boolean } | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void canEdit(account).then((edit) => live && setState({ account, edit }));
    return () => {
      live = false;
    };
  }, [account]);
  return state?.account === account ? state.edit : undefined;
}

function Select(props: {
  id: string;
  label: string;
  value: string;
  options: [string, string][];
  onChange: (v: string) => void;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * An account's shares with the API's own filters, sort and paging: one page is fetched at a time, so a
 * million shares cost what ten do.
 */
export function SharesView(props: { account: string }) {
  const types = useResourceTypes();
  const { account } = props;
  const { search } = useLocation();
  const get = (f: Filter) => search.get(f) ?? '';
  const page = Number(search.get('page') ?? '1') || 1;
  const [tagDraft, setTagDraft] = useState(get('tag'));
  const edit = useCanEdit(account);
  const key = `${account}?${search.toString()}`;
  const shares = useLoad(key, () =>
    api<Share[]>('GET', `/accounts/${account}/shares`, {
      query: {
        kind: get('kind'),
        status: get('status'),
        target_type: get('target_type'),
        resource_types: get('resource_type'),
        tag: get('tag'),
        order: get('order'),
        direction: get('direction'),
        include_recipient_counts: true,
        page,
        per_page: 20,
      },
    }),
  );
  const set = (changes: Partial<Record<Filter | 'page', string>>) => {
    const q = new URLSearchParams(search);
    for (const [k, v] of Object.entries(changes)) {
      if (v === '' || v === undefined) q.delete(k);
      else q.set(k, v);
    }
    if (changes.page === undefined) q.delete('page');
    const text = q.toString();
    navigate(`${paths.shares(account)}${text ? `?${text}` : ''}`);
  };
  const rows = shares.data?.result ?? [];

  return (
    <>
      <p class="crumbs">
        <Link href={paths.accounts()}>Accounts</Link> / <code>{account}</code>
      </p>
      <h1>Shares of account {rows.find((s) => s.account_id === account)?.account_name ?? account}</h1>
      {edit ? (
        <p>
          <Link class="button" href={paths.create(account)}>
            New share
          </Link>
        </p>
      ) : null}
      <form
        class="filters"
        role="search"
        aria-label="Share filters"
        onSubmit={(e) => {
          e.preventDefault();
          set({ tag: tagDraft.trim() });
        }}
      >
        <Select
          id="f-kind"
          label="Kind"
          value={get('kind')}
          options={[
            ['', 'Sent and received'],
            ['sent', 'Sent'],
            ['received', 'Received'],
          ]}
          onChange={(v) => set({ kind: v })}
        />
        <Select
          id="f-status"
          label="Status"
          value={get('status')}
          options={[
            ['', 'Any status'],
            ['active', 'Active'],
            ['deleting', 'Deleting'],
            ['deleted', 'Deleted'],
          ]}
          onChange={(v) => set({ status: v })}
        />
        <Select
          id="f-target"
          label="Target type"
          value={get('target_type')}
          options={[
            ['', 'Any target'],
            ['account', 'Accounts'],
            ['organization', 'Organization'],
          ]}
          onChange={(v) => set({ target_type: v })}
        />
        <Select
          id="f-type"
          label="Resource type"
          value={get('resource_type')}
          options={[['', 'Any resource type'], ...types.names.map((t): [string, string] => [t, t])]}
          onChange={(v) => set({ resource_type: v })}
        />
        <div class="field">
          <label for="f-tag">Tag (key or key=value)</label>
          <input id="f-tag" value={tagDraft} onInput={(e) => setTagDraft(e.currentTarget.value)} />
        </div>
        <Select
          id="f-order"
          label="Sort by"
          value={get('order')}
          options={[
            ['', 'Created'],
            ['name', 'Name'],
          ]}
          onChange={(v) => set({ order: v })}
        />
        <Select
          id="f-direction"
          label="Direction"
          value={get('direction')}
          options={[
            ['', 'Default'],
            ['asc', 'Ascending'],
            ['desc', 'Descending'],
          ]}
          onChange={(v) => set({ direction: v })}
        />
        <button type="submit">Apply tag filter</button>
      </form>
      <ErrorBox error={shares.error} />
      <table>
        <caption>Shares{shares.loading ? ' (loading)' : ''}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">Status</th>
            <th scope="col">Target</th>
            <th scope="col">Recipients (associated / associating / disassociating)</th>
            <th scope="col">Tags</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <tr key={s.id}>
              <th scope="row">
                <Link href={paths.share(account, s.id)}>{s.name}</Link>
              </th>
              <td>{s.kind}</td>
              <td>
                <span class={`status status-${s.status}`}>{s.status}</span>
              </td>
              <td>{s.target_type}</td>
              <td>
                {s.associated_recipient_count ?? 0} / {s.associating_recipient_count ?? 0} /{' '}
                {s.disassociating_recipient_count ?? 0}
              </td>
              <td>
                {Object.entries(s.tags ?? {})
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ')}
              </td>
              <td>{formatTime(s.created)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && !shares.loading ? <p>No shares match.</p> : null}
      <Pager info={shares.data?.info} label="shares" onPage={(p) => set({ page: String(p) })} />
    </>
  );
}
