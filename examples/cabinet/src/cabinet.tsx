import type { ApolloClient } from '@apollo/client';
import { CabinetDocument, MyBalanceChangesDocument, MyTierChangesDocument, MyTierStatusDocument, type CabinetQuery } from '../../../client/index';
import { describeEntry, formatDate, formatDateTime, formatMoney, formatPoints, signed } from './format';
import { useMemo } from 'preact/hooks';
import { readAfterEveryChange, useSubscription, useWatchedQuery, type LiveStatus } from './live';
import { ReferralCard } from './referrals';
import { TierCard } from './tier';

type Account = CabinetQuery['me']['account'];
type LotRow = CabinetQuery['lots']['nodes'][number];
type EntryRow = CabinetQuery['ledgerEntries']['edges'][number]['node'];

/** Points expiring within this many days are called out above the lots. */
const SOON_DAYS = 30;

/**
 * The member's cabinet. The balance comes from Apollo's normalised cache: a `myBalance` event
 * carries the changed Account, so the numbers change with no code here. The event also says
 * that history and lots changed, so they are read again. A `myTier` event reads the tier part
 * again (MyTierStatus): it lands on the same Member in the cache, so the tier card re-renders.
 */
export function Cabinet(props: { client: ApolloClient; liveStatus: () => LiveStatus }) {
  const { data, error, loading, refetch } = useWatchedQuery(props.client, CabinetDocument, { historyFirst: 20 });
  useSubscription(props.client, MyBalanceChangesDocument, () => refetch());
  const readTier = useMemo(() => readAfterEveryChange(() => props.client.query({ query: MyTierStatusDocument, fetchPolicy: 'network-only' })), [props.client]);
  useSubscription(props.client, MyTierChangesDocument, readTier);
  const live = props.liveStatus();

  if (error && !data) return <Notice title="We could not load your points" text={messageOf(error)} />;
  if (!data) return <Notice title={loading ? 'Loading your points…' : 'Nothing to show'} text="" />;
  const { me, tierStructure, lots, ledgerEntries } = data;
  return (
    <main>
      <header>
        <div>
          <h1>{me.name ? `Hello, ${me.name}` : 'Your points'}</h1>
          <p class="muted">Customer {me.externalId}</p>
        </div>
        <span class={`live live-${live}`} data-testid="live-status" data-status={live}>
          {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Offline — reload to update'}
        </span>
      </header>
      <section class="grid">
        <BalanceCard account={me.account} />
        <TierCard member={me} ladder={tierStructure} currency={me.account.availableMoney.currency} />
      </section>
      <LotsCard lots={lots.nodes} />
      <HistoryCard entries={ledgerEntries.edges.map((e) => e.node)} more={ledgerEntries.pageInfo.hasNextPage} />
      <ReferralCard member={me} />
      {/* Offers: the API shows customers no rules or offers yet, so the cabinet has no such section. */}
    </main>
  );
}

function BalanceCard({ account }: { account: Account }) {
  return (
    <section class="card balance" data-testid="balance">
      <h2>Your balance</h2>
      <p class="points">
        <strong data-testid="available" data-value={account.available}>{formatPoints(account.available)}</strong> points
      </p>
      <p class="worth">
        worth <span data-testid="available-money" data-value={account.availableMoney.amountMinor}>{formatMoney(account.availableMoney)}</span>
      </p>
      <dl>
        <dt>Pending</dt>
        <dd data-testid="pending" data-value={account.pending}>
          {formatPoints(account.pending)} <span class="muted">({formatMoney(account.pendingMoney)})</span>
        </dd>
        {account.reserved > 0 && (
          <>
            <dt>Held at checkout</dt>
            <dd data-testid="reserved" data-value={account.reserved}>{formatPoints(account.reserved)}</dd>
          </>
        )}
        <dt>Earned in all</dt>
        <dd>{formatPoints(account.lifetimeEarned)}</dd>
        <dt>Spent in all</dt>
        <dd>{formatPoints(account.lifetimeRedeemed)}</dd>
      </dl>
    </section>
  );
}

function LotsCard({ lots }: { lots: LotRow[] }) {
  const soon = Date.now() + SOON_DAYS * 86_400_000;
  const expiring = lots.filter((l) => l.status === 'AVAILABLE' && l.expiresAt && Date.parse(l.expiresAt) <= soon);
  const expiringPoints = expiring.reduce((sum, l) => sum + l.remaining, 0);
  return (
    <section class="card" data-testid="lots">
      <h2>Your points by date</h2>
      {expiring.length > 0 && (
        <p class="warning" data-testid="expiring-soon" data-value={expiringPoints}>
          {formatPoints(expiringPoints)} points expire in the next {SOON_DAYS} days — the first on {formatDate(expiring.map((l) => l.expiresAt!).sort()[0]!)}.
        </p>
      )}
      {lots.length === 0 ? (
        <p class="muted">No points yet.</p>
      ) : (
        <table>
          <thead>
            <tr><th>Points</th><th>Status</th><th>Date</th></tr>
          </thead>
          <tbody>
            {lots.map((lot) => (
              <tr key={lot.id} data-testid="lot" data-remaining={lot.remaining} data-status={lot.status}>
                <td class="num">{formatPoints(lot.remaining)}{lot.remaining !== lot.amount && <span class="muted"> of {formatPoints(lot.amount)}</span>}</td>
                <td>{lot.status === 'PENDING' ? 'Pending' : 'Available'}</td>
                <td>
                  {lot.status === 'PENDING'
                    ? `available from ${formatDate(lot.availableAt)}`
                    : lot.expiresAt
                      ? `expires ${formatDate(lot.expiresAt)}`
                      : 'never expires'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function HistoryCard({ entries, more }: { entries: EntryRow[]; more: boolean }) {
  return (
    <section class="card" data-testid="history">
      <h2>History</h2>
      {entries.length === 0 ? (
        <p class="muted">Nothing yet.</p>
      ) : (
        <ul class="history">
          {entries.map((entry) => (
            <li key={entry.id} data-testid="entry" data-entry-id={entry.id} data-amount={entry.amount}>
              <span class="when">{formatDateTime(entry.createdAt)}</span>
              <span class="what">{describeEntry(entry)}</span>
              <span class={`amount ${entry.amount < 0 ? 'minus' : 'plus'}`}>{signed(entry.amount)}</span>
              <span class="after muted">balance {formatPoints(entry.balanceAfter)}</span>
            </li>
          ))}
        </ul>
      )}
      {more && <p class="muted">Older entries: page on with ledgerEntries(after: endCursor).</p>}
    </section>
  );
}

function Notice({ title, text }: { title: string; text: string }) {
  return (
    <main>
      <section class="card notice" data-testid="notice">
        <h2>{title}</h2>
        {text && <p>{text}</p>}
      </section>
    </main>
  );
}

function messageOf(error: Error): string {
  const code = (error as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code;
  if (code === 'UNAUTHENTICATED' || /UNAUTHENTICATED|401/.test(error.message)) {
    return 'Your session has ended. Open your points again from the shop.';
  }
  return error.message;
}
