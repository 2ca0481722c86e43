import type { MemberTierFragment, TierLadderFragment } from '../../../client/index';
import { formatDate, formatMoney, formatPoints } from './format';

type Status = NonNullable<MemberTierFragment['tierStatus']>;

/**
 * The member's tier: its perks, a progress bar to the next one, until when it holds, and its
 * history. Amounts are money (minor units, in the program's currency) when the structure counts
 * spend, points when it counts points.
 */
export function TierCard({ member, ladder, currency }: { member: MemberTierFragment; ladder: TierLadderFragment | null; currency: string }) {
  const status = member.tierStatus;
  if (!status || !status.tier) {
    return (
      <section class="card" data-testid="tier" data-tier="">
        <h2>Your tier</h2>
        <p class="muted">This shop has no tiers yet.</p>
      </section>
    );
  }
  const { tier, nextTier, progress } = status;
  const amount = (value: number) => (status.metric === 'SPEND' ? formatMoney({ amountMinor: value, currency }) : `${formatPoints(value)} points`);
  const nameOf = (code: string | null) => (code ? ladder?.levels.find((l) => l.code === code)?.name ?? code : 'no tier');
  return (
    <section class="card tier" data-testid="tier" data-tier={tier.code} data-progress={progress}>
      <h2>Your tier</h2>
      <p class="tier-name" data-testid="tier-name">{tier.name}</p>
      <Benefits tier={tier} />
      {nextTier ? (
        <>
          <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={1} aria-valuenow={progress} aria-label={`Progress to ${nextTier.name}`}>
            <div style={{ width: `${Math.round(progress * 100)}%` }} />
          </div>
          <p data-testid="tier-next" data-value={status.amountToNext}>
            {status.metric === 'SPEND' ? 'Spend' : 'Earn'} <strong>{amount(status.amountToNext)}</strong> more for <strong>{nextTier.name}</strong>
          </p>
        </>
      ) : (
        <p data-testid="tier-next" data-value="0">You are at the top tier.</p>
      )}
      <Risk status={status} amount={amount} nameOf={nameOf} />
      <TierHistory changes={member.tierHistory} nameOf={nameOf} />
    </section>
  );
}

function Benefits({ tier }: { tier: Status['tier'] & object }) {
  const benefits = [
    ...(tier.earnMultiplier !== 1 ? [`×${tier.earnMultiplier} points on every order`] : []),
    ...(tier.discountPercent > 0 ? [`${tier.discountPercent} % off when you take a discount instead of points`] : []),
    ...tier.perks,
  ];
  if (benefits.length === 0) return null;
  return (
    <ul class="perks" data-testid="tier-perks">
      {benefits.map((b) => <li key={b}>{b}</li>)}
    </ul>
  );
}

/**
 * Until when the tier holds. Below its threshold already (in the grace period): what is still
 * needed by the date. Still qualifying: the date is when the orders it rests on have left the
 * window, plus the grace period; spending the tier's threshold before then always keeps it (the
 * API does not say how much less would do).
 */
function Risk({ status, amount, nameOf }: { status: Status; amount: (v: number) => string; nameOf: (c: string | null) => string }) {
  const risk = status.downgradeRisk;
  const tier = status.tier!;
  if (!risk) return <p class="muted" data-testid="tier-risk" data-at="">{tier.name} is yours as long as you keep shopping the way you do.</p>;
  const date = formatDate(risk.at);
  const granted = status.source === 'MANUAL' || status.source === 'PAID';
  const short = tier.threshold - status.qualifyingAmount;
  return (
    <p class="warning" data-testid="tier-risk" data-at={risk.at} data-to={risk.toCode ?? ''}>
      {granted
        ? `${tier.name} is yours until ${date}, then ${nameOf(risk.toCode)}.`
        : short > 0
          ? `Keep ${tier.name}: ${status.metric === 'SPEND' ? 'spend' : 'earn'} ${amount(short)} more by ${date}, or it goes to ${nameOf(risk.toCode)}.`
          : `${tier.name} is yours until ${date}. To keep it, ${status.metric === 'SPEND' ? 'spend' : 'earn'} ${amount(tier.threshold)} by then, or it goes to ${nameOf(risk.toCode)}.`}
    </p>
  );
}

const REASONS: Record<string, string> = {
  ASSIGNED: 'given by the shop',
  ASSIGNMENT_ENDED: 'the shop’s grant ended',
  GRACE_ENDED: 'not requalified in time',
  MEMBERSHIP_LAPSED: 'membership ended',
  PURCHASED: 'membership bought',
  QUALIFIED: 'qualified',
  RETURNED: 'an order was returned',
  STRUCTURE_CHANGED: 'the tiers changed',
};

function TierHistory({ changes, nameOf }: { changes: MemberTierFragment['tierHistory']; nameOf: (c: string | null) => string }) {
  if (changes.length === 0) return null;
  return (
    <details class="tier-history" open>
      <summary>Tier history</summary>
      <ul>
        {changes.map((c) => (
          <li key={`${c.changedAt}-${c.toCode}`} data-testid="tier-change" data-to={c.toCode ?? ''}>
            <span class="muted">{formatDate(c.changedAt)}</span> {c.fromCode ? `${nameOf(c.fromCode)} → ` : ''}<strong>{nameOf(c.toCode)}</strong>
            <span class="muted"> · {REASONS[c.reason] ?? c.reason}</span>
          </li>
        ))}
      </ul>
    </details>
  );
}
