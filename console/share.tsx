import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  accountNames,
  api,
  ApiFailure,
  type ExcludedRecipient,
  type Recipient,
  type Resource,
  type ResultInfo,
  type Share,
} from './api.js';
import { metaSchemaProblem, useResourceTypes } from './resource-types.js';
import { paths } from './route.js';
import { useCanEdit } from './shares.js';
import {
  ErrorBox,
  Link,
  MetaEditor,
  Pager,
  formatTags,
  formatTime,
  json,
  parseMeta,
  parseTags,
  useAction,
  useLoad,
} from './ui.js';

/** How often an unsettled share is read again. */
const POLL_MS = 1000;

interface Cell {
  text: string;
  detail?: string;
  tone: 'ok' | 'busy' | 'error' | 'off';
  settled: boolean;
}

/** One recipient × resource cell, from `GET …/recipients?include_resources=true`. */
export function cellOf(recipient: Recipient, resource: Resource): Cell {
  const entry = recipient.resources?.find((r) => r.resource_id === resource.resource_id);
  if (entry && entry.error !== '') {
    return entry.terminal
      ? { text: 'error, terminal', detail: entry.error, tone: 'error', settled: true }
      : { text: 'error, retrying', detail: entry.error, tone: 'error', settled: false };
  }
  const status = recipient.association_status;
  if (status === 'associated') {
    const applied = entry?.resource_version ?? 0;
    if (resource.status === 'active' && applied < resource.resource_version) {
      return { text: `associated, updating to v${resource.resource_version}`, tone: 'busy', settled: false };
    }
    return { text: `associated v${applied}`, tone: 'ok', settled: resource.status !== 'deleting' };
  }
  if (status === 'disassociated') return { text: 'disassociated', tone: 'off', settled: true };
  return { text: status, tone: 'busy', settled: false };
}

interface Loaded {
  share: Share;
  resources: Resource[];
  recipients?: { rows: Recipient[]; info?: ResultInfo };
  /** Names of the recipient accounts the credential may see (from its memberships). */
  names: Map<string, string>;
  excluded?: { rows: ExcludedRecipient[]; info?: ResultInfo };
}

function unsettled(data: Loaded): boolean {
  if (data.share.status === 'deleting') return true;
  if (data.resources.some((r) => r.status === 'deleting')) return true;
  for (const rec of data.recipients?.rows ?? []) {
    if (data.resources.length === 0 && rec.association_status.endsWith('ing')) return true;
    if (data.resources.some((res) => !cellOf(rec, res).settled)) return true;
  }
  return false;
}

export function ShareView(props: { account: string; share: string }) {
  const { account, share: shareId } = props;
  const [recipientPage, setRecipientPage] = useState(1);
  const [excludedPage, setExcludedPage] = useState(1);
  const [tick, setTick] = useState(0);
  const may = useCanEdit(account);
  const base = `/accounts/${account}/shares/${shareId}`;

  const loaded = useLoad(`${base}|${recipientPage}|${excludedPage}|${tick}`, async (): Promise<Loaded> => {
    // A share holds at most 100 resources: one page is all of them.
    const resources = (await api<Resource[]>('GET', `${base}/resources`, { query: { per_page: 100 } }))
      .result;
    // Recipients before the share, so its counts are never older than the cells (a recipient of a
    // received share may not list the others: 404).
    let recipients: Loaded['recipients'];
    try {
      const r = await api<Recipient[]>('GET', `${base}/recipients`, {
        query: { include_resources: true, page: recipientPage, per_page: 20 },
      });
      recipients = { rows: r.result, info: r.info };
    } catch (err) {
      if (!(err instanceof ApiFailure && err.status === 404)) throw err;
    }
    const { result: share } = await api<Share>('GET', base, { query: { include_recipient_counts: true } });
    const data: Loaded = { share, resources, names: new Map() };
    if (share.kind !== 'received' && recipients) {
      data.recipients = recipients;
      data.names = await accountNames(recipients.rows.map((r) => r.account_id));
      if (share.target_type === 'organization') {
        const e = await api<ExcludedRecipient[]>('GET', `${base}/excluded-recipients`, {
          query: { page: excludedPage, per_page: 20 },
        });
        data.excluded = { rows: e.result, info: e.info };
      }
    }
    return data;
  });
  const data = loaded.data;
  const refresh = () => setTick((t) => t + 1);

  // Short polling while the reconciler still has work on this share.
  const polling = data !== undefined && !loaded.loading && unsettled(data);
  useEffect(() => {
    if (!polling) return;
    const timer = setTimeout(refresh, POLL_MS);
    return () => clearTimeout(timer);
  }, [polling, tick]);

  if (!data) {
    const notFound = loaded.error instanceof ApiFailure && loaded.error.status === 404;
    return (
      <>
        <p class="crumbs">
          <Link href={paths.accounts()}>Accounts</Link> / <Link href={paths.shares(account)}>{account}</Link>
        </p>
        <h1>{notFound ? 'Share not found' : 'Share'}</h1>
        {loaded.loading ? <p>Loading…</p> : <ErrorBox error={loaded.error} />}
      </>
    );
  }

  const { share, resources } = data;
  const edit = may === true && share.kind !== 'received' && share.status === 'active';
  return (
    <>
      <p class="crumbs">
        <Link href={paths.accounts()}>Accounts</Link> / <Link href={paths.shares(account)}>{account}</Link> /{' '}
        {share.name}
      </p>
      <h1>{share.name}</h1>
      <ErrorBox error={loaded.error} label="Refresh failed" />
      <dl class="facts">
        <dt>Status</dt>
        <dd aria-live="polite">
          <span class={`status status-${share.status}`} data-testid="share-status">
            {share.status}
          </span>
          {polling ? <span class="live"> (updating)</span> : null}
        </dd>
        <dt>Kind</dt>
        <dd>{share.kind}</dd>
        <dt>Target</dt>
        <dd>{share.target_type === 'organization' ? `organization ${share.organization_id}` : 'accounts'}</dd>
        <dt>Owner</dt>
        <dd>
          {share.account_name} <code>{share.account_id}</code>
        </dd>
        <dt>Share id</dt>
        <dd>
          <code>{share.id}</code>
        </dd>
        <dt>Recipients</dt>
        <dd>
          {share.associated_recipient_count ?? 0} associated, {share.associating_recipient_count ?? 0}{' '}
          associating, {share.disassociating_recipient_count ?? 0} disassociating,{' '}
          {share.disassociated_recipient_count ?? 0} disassociated
        </dd>
        <dt>Tags</dt>
        <dd>{formatTags(share.tags).replace(/\n/g, ', ') || 'none'}</dd>
        <dt>Created / modified</dt>
        <dd>
          {formatTime(share.created)} / {formatTime(share.modified)}
        </dd>
      </dl>
      <p>
        <Link href={paths.history(account, share.id)}>History</Link>
      </p>
      {data.recipients ? (
        <section aria-labelledby="matrix-heading" aria-live="polite" aria-relevant="text">
          <h2 id="matrix-heading">Recipients × resources</h2>
          <Matrix
            recipients={data.recipients.rows}
            names={data.names}
            resources={resources}
            base={base}
            edit={edit && share.target_type === 'account'}
            onDone={refresh}
          />
          <Pager info={data.recipients.info} label="recipients" onPage={setRecipientPage} />
          {edit && share.target_type === 'account' ? <AddRecipient base={base} onDone={refresh} /> : null}
        </section>
      ) : (
        <p>This share was shared with this account; its other recipients are the owner's to see.</p>
      )}

      <ResourcesSection base={base} share={share} resources={resources} edit={edit} onDone={refresh} />

      {data.excluded ? (
        <ExcludedSection base={base} rows={data.excluded.rows} edit={edit} onDone={refresh}>
          <Pager info={data.excluded.info} label="excluded accounts" onPage={setExcludedPage} />
        </ExcludedSection>
      ) : null}

      {edit ? <RenameForm base={base} share={share} onDone={refresh} /> : null}

      {edit ? <DeleteShare base={base} onDone={refresh} /> : null}
    </>
  );
}

function RenameForm(props: { base: string; share: Share; onDone: () => void }) {
  const [name, setName] = useState(props.share.name);
  const [tags, setTags] = useState(formatTags(props.share.tags));
  const action = useAction();
  return (
    <form
      class="inline-form"
      aria-label="Rename and retag"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(
          async () => api('PUT', props.base, { body: { name, tags: parseTags(tags) } }),
          props.onDone,
        );
      }}
    >
      <h2>Rename and retag</h2>
      <div class="field">
        <label for="share-name">Name</label>
        <input id="share-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="share-tags">Tags (key=value, one per line)</label>
        <textarea id="share-tags" rows={2} value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
      </div>
      <button type="submit" disabled={action.busy}>
        Save name and tags
      </button>
      <ErrorBox error={action.error} label="The API refused the change" />
    </form>
  );
}

function ResourceRow(props: { base: string; resource: Resource; edit: boolean; onDone: () => void }) {
  const { resource: r } = props;
  const [editing, setEditing] = useState(false);
  const [meta, setMeta] = useState(json(r.meta));
  const action = useAction();
  const types = useResourceTypes();
  const check = (m: Record<string, unknown>) => metaSchemaProblem(types, r.resource_type, m);
  const parsedMeta = parseMeta(meta).meta;
  const url = `${props.base}/resources/${r.id}`;
  return (
    <tr>
      <td>{r.resource_type}</td>
      <th scope="row">
        <code>{r.resource_id}</code>
      </th>
      <td data-testid="resource-version">v{r.resource_version}</td>
      <td>{r.status}</td>
      <td>
        {editing ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const parsed = parseMeta(meta);
              if (!parsed.meta || check(parsed.meta)) return;
              void action.run(
                async () => api('PUT', url, { body: { meta: parsed.meta } }),
                () => {
                  setEditing(false);
                  props.onDone();
                },
              );
            }}
          >
            <MetaEditor
              id={`meta-${r.id}`}
              label={`Meta of ${r.resource_id}`}
              value={meta}
              onInput={setMeta}
              check={check}
            />
            <button
              type="submit"
              disabled={action.busy || parsedMeta === undefined || check(parsedMeta) !== undefined}
            >
              Save meta
            </button>{' '}
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <pre class="json">{json(r.meta)}</pre>
        )}
        <ErrorBox error={action.error} label="The API refused the change" />
      </td>
      {props.edit ? (
        <td>
          {editing || r.status !== 'active' ? null : (
            <>
              <button
                type="button"
                onClick={() => {
                  setMeta(json(r.meta));
                  setEditing(true);
                }}
              >
                Edit meta of {r.resource_id}
              </button>{' '}
              <button
                type="button"
                disabled={action.busy}
                onClick={() => void action.run(() => api('DELETE', url), props.onDone)}
              >
                Remove {r.resource_id}
              </button>
            </>
          )}
        </td>
      ) : null}
    </tr>
  );
}

function ResourcesSection(props: {
  base: string;
  share: Share;
  resources: Resource[];
  edit: boolean;
  onDone: () => void;
}) {
  const types = useResourceTypes();
  const [chosen, setType] = useState('');
  const type = types.names.includes(chosen) ? chosen : (types.names[0] ?? '');
  const [id, setId] = useState('');
  const [meta, setMeta] = useState('{}');
  const action = useAction();
  const check = (m: Record<string, unknown>) => metaSchemaProblem(types, type, m);
  return (
    <section aria-labelledby="resources-heading">
      <h2 id="resources-heading">Resources</h2>
      <table>
        <caption>Shared resources</caption>
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Resource id</th>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Meta</th>
            {props.edit ? <th scope="col">Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {props.resources.map((r) => (
            <ResourceRow key={r.id} base={props.base} resource={r} edit={props.edit} onDone={props.onDone} />
          ))}
        </tbody>
      </table>
      {props.edit ? (
        <form
          class="inline-form"
          aria-label="Add a resource"
          onSubmit={(e) => {
            e.preventDefault();
            const parsed = parseMeta(meta);
            if (!parsed.meta || check(parsed.meta)) return;
            void action.run(
              async () =>
                api('POST', `${props.base}/resources`, {
                  body: {
                    resource_type: type,
                    resource_id: id.trim(),
                    resource_account_id: props.share.account_id,
                    meta: parsed.meta,
                  },
                }),
              () => {
                setId('');
                setMeta('{}');
                props.onDone();
              },
            );
          }}
        >
          <h3>Add a resource</h3>
          <div class="field">
            <label for="add-resource-type">Resource type</label>
            <select id="add-resource-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
              {types.names.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="add-resource-id">Resource id</label>
            <input id="add-resource-id" required value={id} onInput={(e) => setId(e.currentTarget.value)} />
          </div>
          <MetaEditor
            id="add-resource-meta"
            label="Meta (JSON object)"
            value={meta}
            onInput={setMeta}
            check={check}
          />
          <button type="submit" disabled={action.busy}>
            Add resource
          </button>
          <ErrorBox error={action.error} label="The API refused the resource" />
        </form>
      ) : null}
    </section>
  );
}

function Matrix(props: {
  recipients: Recipient[];
  names: Map<string, string>;
  resources: Resource[];
  base: string;
  edit: boolean;
  onDone: () => void;
}) {
  const action = useAction();
  if (props.recipients.length === 0) return <p>No recipients.</p>;
  // Removed resources leave the matrix (the resources table still lists them), unless nothing else is left.
  const live = props.resources.filter((r) => r.status !== 'deleted');
  const columns = live.length > 0 ? live : props.resources;
  return (
    <>
      <div class="scroll">
        <table class="matrix">
          <caption>Association state of each recipient account for each resource</caption>
          <thead>
            <tr>
              <th scope="col">Recipient account</th>
              <th scope="col">Association</th>
              {columns.map((r) => (
                <th scope="col" key={r.id}>
                  {r.resource_type} <code>{r.resource_id}</code> (v{r.resource_version})
                </th>
              ))}
              {props.edit ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {props.recipients.map((rec) => (
              <tr key={rec.id}>
                <th scope="row">
                  {props.names.has(rec.account_id) ? `${props.names.get(rec.account_id)} ` : null}
                  <code>{rec.account_id}</code>
                </th>
                <td>{rec.association_status}</td>
                {columns.map((res) => {
                  const cell = cellOf(rec, res);
                  return (
                    <td key={res.id} class={`cell cell-${cell.tone}`} data-testid="matrix-cell">
                      <span class="cell-state">{cell.text}</span>
                      {cell.detail ? <span class="cell-detail">: {cell.detail}</span> : null}
                    </td>
                  );
                })}
                {props.edit ? (
                  <td>
                    {rec.association_status === 'disassociated' ||
                    rec.association_status === 'disassociating' ? null : (
                      <button
                        type="button"
                        disabled={action.busy}
                        onClick={() =>
                          void action.run(
                            () => api('DELETE', `${props.base}/recipients/${rec.id}`),
                            props.onDone,
                          )
                        }
                      >
                        Remove recipient {rec.account_id}
                      </button>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ErrorBox error={action.error} label="The API refused the change" />
    </>
  );
}

function AddRecipient(props: { base: string; onDone: () => void }) {
  const [id, setId] = useState('');
  const action = useAction();
  return (
    <form
      class="inline-form"
      aria-label="Add a recipient"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(
          async () => api('POST', `${props.base}/recipients`, { body: { recipient_account_id: id.trim() } }),
          () => {
            setId('');
            props.onDone();
          },
        );
      }}
    >
      <div class="field">
        <label for="add-recipient">Recipient account id</label>
        <input id="add-recipient" required value={id} onInput={(e) => setId(e.currentTarget.value)} />
      </div>
      <button type="submit" disabled={action.busy}>
        Add recipient
      </button>
      <ErrorBox error={action.error} label="The API refused the recipient" />
    </form>
  );
}

function ExcludedSection(props: {
  base: string;
  rows: ExcludedRecipient[];
  edit: boolean;
  onDone: () => void;
  children: ComponentChildren;
}) {
  const [id, setId] = useState('');
  const action = useAction();
  return (
    <section aria-labelledby="excluded-heading">
      <h2 id="excluded-heading">Excluded accounts</h2>
      {props.rows.length === 0 ? <p>No account of the organization is excluded.</p> : null}
      <ul>
        {props.rows.map((x) => (
          <li key={x.id}>
            <code>{x.account_id}</code> since {formatTime(x.created)}{' '}
            {props.edit ? (
              <button
                type="button"
                disabled={action.busy}
                onClick={() =>
                  void action.run(
                    () => api('DELETE', `${props.base}/excluded-recipients/${x.id}`),
                    props.onDone,
                  )
                }
              >
                Re-include {x.account_id}
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {props.children}
      {props.edit ? (
        <form
          class="inline-form"
          aria-label="Exclude an account"
          onSubmit={(e) => {
            e.preventDefault();
            void action.run(
              async () =>
                api('POST', `${props.base}/excluded-recipients`, { body: { account_id: id.trim() } }),
              () => {
                setId('');
                props.onDone();
              },
            );
          }}
        >
          <div class="field">
            <label for="exclude-account">Account id to exclude</label>
            <input id="exclude-account" required value={id} onInput={(e) => setId(e.currentTarget.value)} />
          </div>
          <button type="submit" disabled={action.busy}>
            Exclude account
          </button>
        </form>
      ) : null}
      <ErrorBox error={action.error} label="The API refused the change" />
    </section>
  );
}

function DeleteShare(props: { base: string; onDone: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  return (
    <section aria-labelledby="delete-heading" class="danger">
      <h2 id="delete-heading">Delete</h2>
      <p>Deleting disassociates every recipient and removes the resources from their accounts.</p>
      {confirming ? (
        <>
          <button
            type="button"
            class="danger-button"
            disabled={action.busy}
            onClick={() => void action.run(() => api('DELETE', props.base), props.onDone)}
          >
            Yes, delete this share
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </>
      ) : (
        <button type="button" onClick={() => setConfirming(true)}>
          Delete share
        </button>
      )}
      <ErrorBox error={action.error} label="The API refused the deletion" />
    </section>
  );
}
