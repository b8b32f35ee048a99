import { useState } from 'preact/hooks';
import { checkToken, tokenStore } from './api';

const MESSAGES = {
  refused: 'The API refused this token: it is wrong, or has been rotated. Enter the current one.',
  unreachable: 'The API is unreachable: no answer from this address. Try again in a moment.',
};

/**
 * Asks for the API token and tries it before keeping it (sessionStorage: gone when the tab
 * closes). `refused`: the token in use was just refused by the API (expired, rotated, mistyped).
 */
export function Login({ refused, onSignedIn }: { refused: boolean; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<keyof typeof MESSAGES | null>(refused ? 'refused' : null);
  const [checking, setChecking] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setChecking(true);
    const outcome = await checkToken(token.trim());
    setChecking(false);
    if (outcome !== 'ok') {
      setProblem(outcome);
      return;
    }
    tokenStore.set(token.trim());
    onSignedIn();
  };

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} noValidate>
        <h1>
          sluice <span>console</span>
        </h1>
        <p class="hint">
          Enter the API token (printed by <code>npm start</code>; on AWS in the secret <code>sluice-&lt;stage&gt;/api-token</code>). It is kept in this tab only.
        </p>
        <div class="field">
          <label for="token">API token</label>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="current-password"
            value={token}
            onInput={(event) => setToken(event.currentTarget.value)}
            aria-invalid={problem === 'refused' ? 'true' : undefined}
            aria-describedby={problem ? 'token-error' : undefined}
            autofocus
          />
          {problem && (
            <p id="token-error" class="field-error" role="alert">
              {MESSAGES[problem]}
            </p>
          )}
        </div>
        <button type="submit" disabled={checking}>
          {checking ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
