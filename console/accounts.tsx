import { useState } from 'preact/hooks';
import { api, type Account } from './api.js';
import { navigate, paths, useLocation } from './route.js';
import { ErrorBox, Link, Pager, formatTime, useLoad } from './ui.js';

/** The accounts the credential can see (`GET /accounts`), a page at a time. */
export function AccountsView() {
  const { search } = useLocation();
  const name = search.get('name') ?? '';
  const direction = search.get('direction') === 'desc' ? 'desc' : 'asc';
  const page = Number(search.get('page') ?? '1') || 1;
  const [draft, setDraft] = useState(name);
  const accounts = useLoad(`${name}|${direction}|${page}`, () =>
    api<Account[]>('GET', '/accounts', { query: { name, direction, page, per_page: 20 } }),
  );
  const go = (next: { name?: string; direction?: string; page?: number }) => {
    const q = new URLSearchParams({ name, direction, page: String(page) });
    for (const [k, v] of Object.entries(next)) q.set(k, String(v));
    if (next.page === undefined) q.set('page', '1');
    navigate(`${paths.accounts()}?${q.toString()}`);
  };

  return (
    <>
      <h1>Accounts</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ name: draft });
        }}
      >
        <div class="field">
          <label for="accounts-name">Account name contains</label>
          <input id="accounts-name" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="accounts-direction">Order</label>
          <select
            id="accounts-direction"
            value={direction}
            onChange={(e) => go({ direction: e.currentTarget.value })}
          >
            <option value="asc">Name A to Z</option>
            <option value="desc">Name Z to A</option>
          </select>
        </div>
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={accounts.error} />
      <table>
        <caption>Accounts in scope</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Account id</th>
            <th scope="col">Organization</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {(accounts.data?.result ?? []).map((a) => (
            <tr key={a.id}>
              <th scope="row">
                <Link href={paths.shares(a.id)}>{a.name}</Link>
              </th>
              <td>
                <code>{a.id}</code>
              </td>
              <td>{a.managed_by?.parent_org_name ?? '—'}</td>
              <td>{formatTime(a.created_on)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager info={accounts.data?.info} label="accounts" onPage={(p) => go({ page: p })} />
    </>
  );
}
