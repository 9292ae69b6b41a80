import { useState } from 'preact/hooks';
import { admin, session } from './api.js';
import { CredentialField, ErrorBox, formatTime, json, useAction, useLoad } from './ui.js';

interface Clock {
  now: string;
  frozen: boolean;
  offset_ms: number;
}

interface JournalEntry {
  method: string;
  path?: string;
  url?: string;
  status?: number;
  time?: string;
  operation_id?: string;
}

function AdminSignIn(props: { onDone: () => void }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        session.setAdminToken(token.trim());
        props.onDone();
      }}
    >
      <p>The emulator controls need the admin token the server printed (kept in this tab only).</p>
      <CredentialField id="admin-token" label="Admin token" value={token} onInput={setToken} />
      <button type="submit">Open the emulator panel</button>
    </form>
  );
}

/** The admin API (`/_rshare`): reconcile, reset, clock, faults and the request journal. */
export function EmulatorView() {
  const [hasToken, setHasToken] = useState(session.adminToken() !== undefined);
  const [tick, setTick] = useState(0);
  const [advance, setAdvance] = useState('60000');
  const [rule, setRule] = useState(
    '{ "method": "GET", "path": "/accounts/*/shares", "status": 429, "count": 1 }',
  );
  const [result, setResult] = useState<unknown>(undefined);
  const action = useAction();
  const state = useLoad(`${hasToken}|${tick}`, async () => {
    if (!hasToken) return undefined;
    const [clock, faults, journal] = await Promise.all([
      admin<Clock>('GET', '/clock'),
      admin<unknown[]>('GET', '/faults'),
      admin<JournalEntry[]>('GET', '/requests'),
    ]);
    return { clock: clock.result, faults: faults.result, journal: journal.result };
  });
  const refresh = () => setTick((t) => t + 1);
  const run = (method: string, path: string, body?: unknown) =>
    void action.run(async () => setResult((await admin(method, path, body)).result), refresh);

  if (!hasToken) {
    return (
      <>
        <h1>Emulator</h1>
        <AdminSignIn onDone={() => setHasToken(true)} />
      </>
    );
  }
  const data = state.data;
  return (
    <>
      <h1>Emulator</h1>
      <p>
        <button
          type="button"
          onClick={() => {
            session.setAdminToken(undefined);
            setHasToken(false);
          }}
        >
          Forget the admin token
        </button>
      </p>
      <ErrorBox error={state.error} label="Admin API" />
      <ErrorBox error={action.error} label="The admin API refused" />
      <section aria-labelledby="em-reconcile">
        <h2 id="em-reconcile">Reconciler and store</h2>
        <button type="button" disabled={action.busy} onClick={() => run('POST', '/reconcile', {})}>
          Reconcile now
        </button>{' '}
        <button type="button" disabled={action.busy} onClick={() => run('POST', '/reset', {})}>
          Reset the store
        </button>
        {result !== undefined ? (
          <pre class="json" aria-label="Last answer">
            {json(result)}
          </pre>
        ) : null}
      </section>
      <section aria-labelledby="em-clock">
        <h2 id="em-clock">Clock</h2>
        {data ? (
          <p>
            Now {formatTime(data.clock.now)}, {data.clock.frozen ? 'frozen' : 'running'}, offset{' '}
            {data.clock.offset_ms} ms
          </p>
        ) : null}
        <button
          type="button"
          onClick={() => run('POST', '/clock', { freeze: !(data?.clock.frozen ?? false) })}
        >
          {data?.clock.frozen ? 'Resume the clock' : 'Freeze the clock'}
        </button>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            run('POST', '/clock', { advance_ms: Number(advance) });
          }}
        >
          <div class="field">
            <label for="em-advance">Advance by (ms)</label>
            <input
              id="em-advance"
              inputMode="numeric"
              value={advance}
              onInput={(e) => setAdvance(e.currentTarget.value)}
            />
          </div>
          <button type="submit">Advance the clock</button>
        </form>
      </section>
      <section aria-labelledby="em-faults">
        <h2 id="em-faults">Faults</h2>
        <pre class="json">{json(data?.faults ?? [])}</pre>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            let body: unknown;
            try {
              body = JSON.parse(rule);
            } catch {
              return;
            }
            run('POST', '/faults', body);
          }}
        >
          <div class="field">
            <label for="em-rule">Fault rule (JSON)</label>
            <textarea
              id="em-rule"
              rows={3}
              spellcheck={false}
              value={rule}
              onInput={(e) => setRule(e.currentTarget.value)}
            />
          </div>
          <button type="submit">Add fault rule</button>{' '}
          <button type="button" onClick={() => run('DELETE', '/faults')}>
            Remove every fault rule
          </button>
        </form>
      </section>
      <section aria-labelledby="em-journal">
        <h2 id="em-journal">Request journal</h2>
        <button type="button" onClick={refresh}>
          Refresh
        </button>{' '}
        <button type="button" onClick={() => run('DELETE', '/requests')}>
          Clear the journal
        </button>
        <div class="scroll">
          <table>
            <caption>Public API requests, newest first (the last 25)</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {(data?.journal ?? []).slice(0, 25).map((j, i) => (
                <tr key={i}>
                  <td>{formatTime(j.time)}</td>
                  <td>{j.method}</td>
                  <td>
                    <code>{j.path ?? j.url}</code>
                  </td>
                  <td>{j.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
