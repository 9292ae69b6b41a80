import { render } from 'preact';
import { useState } from 'preact/hooks';
import { AccountsView } from './accounts.js';
import { api, session, type Credentials } from './api.js';
import { CreateShareView } from './create.js';
import { EmulatorView } from './emulator.js';
import { HistoryView } from './history.js';
import { parse, paths, useLocation } from './route.js';
import { ShareView } from './share.js';
import { SharesView } from './shares.js';
import { CredentialField, ErrorBox, Link } from './ui.js';

function SignIn(props: { onSignedIn: () => void }) {
  const [kind, setKind] = useState<'token' | 'key'>('token');
  const [token, setToken] = useState('');
  const [email, setEmail] = useState('');
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const credentials: Credentials =
      kind === 'token' ? { kind, token: token.trim() } : { kind, email: email.trim(), key: key.trim() };
    setBusy(true);
    setError(undefined);
    session.signIn(credentials);
    try {
      // Any call proves the credential; this one also shows it can see accounts.
      await api('GET', '/accounts', { query: { per_page: 1 } });
      props.onSignedIn();
    } catch (err) {
      session.signOut();
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>Sign in to rshare</h1>
      <p>
        The console calls this server's API with the credential you give here. It is kept in this browser tab
        only and forgotten when you sign out or close the tab.
      </p>
      <form onSubmit={submit}>
        <fieldset>
          <legend>Credential</legend>
          <label>
            <input type="radio" name="kind" checked={kind === 'token'} onChange={() => setKind('token')} />{' '}
            Use an API token
          </label>
          <label>
            <input type="radio" name="kind" checked={kind === 'key'} onChange={() => setKind('key')} /> Use an
            email and global API key
          </label>
        </fieldset>
        {kind === 'token' ? (
          <CredentialField id="signin-token" label="API token" value={token} onInput={setToken} />
        ) : (
          <>
            <CredentialField id="signin-email" label="Email" type="email" value={email} onInput={setEmail} />
            <CredentialField id="signin-key" label="Global API key" value={key} onInput={setKey} />
          </>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorBox error={error} label="Sign-in failed" />
      </form>
    </main>
  );
}

function Page() {
  const { pathname } = useLocation();
  const route = parse(pathname);
  switch (route.view) {
    case 'accounts':
      return <AccountsView />;
    case 'shares':
      return <SharesView account={route.account} />;
    case 'create':
      return <CreateShareView account={route.account} />;
    case 'share':
      return <ShareView account={route.account} share={route.share} />;
    case 'history':
      return <HistoryView account={route.account} share={route.share} />;
    case 'emulator':
      return <EmulatorView />;
    default:
      return (
        <>
          <h1>Not found</h1>
          <p>
            Nothing lives at this address. <Link href={paths.accounts()}>Back to the accounts</Link>
          </p>
        </>
      );
  }
}

function App() {
  const [signedIn, setSignedIn] = useState(session.credentials() !== undefined);
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  const signOut = () => {
    session.signOut();
    setSignedIn(false);
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">rshare console</span>
        <nav aria-label="Main">
          <Link href={paths.accounts()}>Accounts</Link>
          <Link href={paths.emulator()}>Emulator</Link>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </nav>
      </header>
      <main id="main">
        <Page />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) {
  // Replace the static "Loading" text rather than render beside it.
  root.textContent = '';
  render(<App />, root);
}
