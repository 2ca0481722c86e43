import { render } from 'preact';
import { createPatronApolloClient } from '../../../client/apollo';
import { Cabinet } from './cabinet';
import { liveStatusStore } from './live';

/**
 * The shop's page gives the cabinet two things: where Patron is (`window.PATRON`, from
 * /config.js) and a customer token its backend issued with `issueCustomerToken` (here in the
 * URL fragment, which never reaches a server log).
 */
declare global {
  interface Window {
    PATRON?: { httpUrl: string; wsUrl: string };
  }
}

const root = document.getElementById('app')!;
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const config = window.PATRON;

if (!token || !config) {
  render(
    <main>
      <section class="card notice" data-testid="notice">
        <h2>Sign in at the shop to see your points</h2>
        <p>The shop opens this page with a customer token.</p>
      </section>
    </main>,
    root,
  );
} else {
  const live = liveStatusStore();
  const client = createPatronApolloClient({
    httpUrl: config.httpUrl,
    wsUrl: config.wsUrl,
    credential: token,
    wsOptions: {
      // Keep trying: a deploy or a dropped network must not freeze the page for good.
      retryAttempts: Infinity,
      shouldRetry: () => true,
      on: { connected: () => live.set('live'), closed: () => live.set('offline'), connecting: () => live.set('connecting') },
    },
  });
  render(<Cabinet client={client} liveStatus={live.use} />, root);
}
