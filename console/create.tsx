import { useState } from 'preact/hooks';
import { api, type Account, type Share } from './api.js';
import { metaSchemaProblem, useResourceTypes } from './resource-types.js';
import { navigate, paths } from './route.js';
import { ErrorBox, Link, MetaEditor, parseMeta, parseTags, useAction, useLoad } from './ui.js';

interface ResourceDraft {
  type: string;
  id: string;
  meta: string;
}

// No type yet: the picker shows the server's first type until one is chosen.
const emptyResource = (): ResourceDraft => ({ type: '', id: '', meta: '{}' });

/** The create form: recipients (accounts, or the whole organization), resources and tags. */
export function CreateShareView(props: { account: string }) {
  const { account } = props;
  const [name, setName] = useState('');
  const [target, setTarget] = useState<'accounts' | 'organization'>('accounts');
  const [recipients, setRecipients] = useState('');
  const [resources, setResources] = useState<ResourceDraft[]>([emptyResource()]);
  const [tags, setTags] = useState('');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const action = useAction();
  const types = useResourceTypes();
  const typeOf = (r: ResourceDraft): string =>
    types.names.includes(r.type) ? r.type : (types.names[0] ?? '');
  // The account's organization, for "the whole organization" (GET /accounts shows it as managed_by).
  const self = useLoad(account, async () => {
    // A few pages at most: past them (a huge organization) the id is typed instead.
    for (let page = 1; page <= 3; page += 1) {
      const { result, info } = await api<Account[]>('GET', '/accounts', { query: { page, per_page: 100 } });
      const found = result.find((a) => a.id === account);
      if (found || !info || page >= info.total_pages) return found;
    }
    return undefined;
  });
  const [orgDraft, setOrgDraft] = useState<string | undefined>(undefined);
  const organization = orgDraft ?? self.data?.managed_by?.parent_org_id ?? '';

  const setResource = (i: number, change: Partial<ResourceDraft>) =>
    setResources(resources.map((r, j) => (j === i ? { ...r, ...change } : r)));

  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem(undefined);
    let body: unknown;
    try {
      const metas = resources.map((r, i) => {
        const parsed = parseMeta(r.meta);
        if (!parsed.meta) throw new Error(`Resource ${i + 1}: ${parsed.problem}`);
        const refused = metaSchemaProblem(types, typeOf(r), parsed.meta);
        if (refused) throw new Error(`Resource ${i + 1}: ${refused}`);
        return parsed.meta;
      });
      const ids = recipients
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter((s) => s !== '');
      body = {
        name,
        recipients:
          target === 'organization'
            ? [{ organization_id: organization.trim() }]
            : ids.map((id) => ({ recipient_account_id: id })),
        resources: resources.map((r, i) => ({
          resource_type: typeOf(r),
          resource_id: r.id.trim(),
          resource_account_id: account,
          meta: metas[i],
        })),
        ...(tags.trim() === '' ? {} : { tags: parseTags(tags) }),
      };
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
      return;
    }
    await action.run(async () => {
      const { result } = await api<Share>('POST', `/accounts/${account}/shares`, { body });
      navigate(paths.share(account, result.id));
    });
  };

  return (
    <>
      <p class="crumbs">
        <Link href={paths.accounts()}>Accounts</Link> / <Link href={paths.shares(account)}>{account}</Link> /
        new
      </p>
      <h1>New share</h1>
      <form onSubmit={submit} class="stack">
        <div class="field">
          <label for="create-name">Share name</label>
          <input id="create-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <fieldset>
          <legend>Recipients</legend>
          <label>
            <input
              type="radio"
              name="target"
              checked={target === 'accounts'}
              onChange={() => setTarget('accounts')}
            />{' '}
            Chosen accounts
          </label>
          <label>
            <input
              type="radio"
              name="target"
              checked={target === 'organization'}
              onChange={() => setTarget('organization')}
            />{' '}
            The whole organization
            {self.data?.managed_by?.parent_org_name ? ` (${self.data.managed_by.parent_org_name})` : ''}
          </label>
          {target === 'organization' ? (
            <div class="field">
              <label for="create-organization">Organization id</label>
              <input
                id="create-organization"
                spellcheck={false}
                value={organization}
                onInput={(e) => setOrgDraft(e.currentTarget.value)}
              />
            </div>
          ) : null}
          {target === 'accounts' ? (
            <div class="field">
              <label for="create-recipients">Recipient account ids (one per line)</label>
              <textarea
                id="create-recipients"
                rows={3}
                spellcheck={false}
                value={recipients}
                onInput={(e) => setRecipients(e.currentTarget.value)}
              />
            </div>
          ) : null}
        </fieldset>
        {resources.map((r, i) => (
          <fieldset key={i}>
            <legend>Resource {i + 1}</legend>
            <div class="field">
              <label for={`create-type-${i}`}>Resource type</label>
              <select
                id={`create-type-${i}`}
                value={typeOf(r)}
                onChange={(e) => setResource(i, { type: e.currentTarget.value })}
              >
                {types.names.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for={`create-rid-${i}`}>Resource id</label>
              <input
                id={`create-rid-${i}`}
                required
                spellcheck={false}
                value={r.id}
                onInput={(e) => setResource(i, { id: e.currentTarget.value })}
              />
            </div>
            <MetaEditor
              id={`create-meta-${i}`}
              label={`Resource ${i + 1} meta (JSON object)`}
              value={r.meta}
              onInput={(meta) => setResource(i, { meta })}
              check={(meta) => metaSchemaProblem(types, typeOf(r), meta)}
            />
            {resources.length > 1 ? (
              <button type="button" onClick={() => setResources(resources.filter((_, j) => j !== i))}>
                Remove resource {i + 1}
              </button>
            ) : null}
          </fieldset>
        ))}
        <p>
          <button type="button" onClick={() => setResources([...resources, emptyResource()])}>
            Add another resource
          </button>
        </p>
        <div class="field">
          <label for="create-tags">Tags (key=value, one per line)</label>
          <textarea id="create-tags" rows={2} value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </div>
        {problem ? (
          <p class="error" role="alert">
            {problem}
          </p>
        ) : null}
        <ErrorBox error={action.error} label="The API refused the share" />
        <p>
          <button type="submit" disabled={action.busy}>
            Create share
          </button>
        </p>
      </form>
    </>
  );
}
