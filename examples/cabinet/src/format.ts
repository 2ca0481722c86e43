/** Display helpers: points, money in minor units, dates — in the browser's language. */
const locale = () => (typeof navigator !== 'undefined' ? navigator.language : 'en-US');

export function formatPoints(points: number): string {
  return new Intl.NumberFormat(locale()).format(points);
}

/** Minor units to the currency's own number of decimals (kopecks and cents: 2, yen: 0). */
export function formatMoney(money: { amountMinor: number; currency: string }): string {
  const format = new Intl.NumberFormat(locale(), { style: 'currency', currency: money.currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(money.amountMinor / 10 ** digits);
}

export function formatDate(iso: string): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(new Date(iso));
}

export function formatDateTime(iso: string): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

const KIND_LABELS: Record<string, string> = {
  ACCRUAL: 'Points earned',
  ACTIVATION: 'Points became available',
  ADJUSTMENT: 'Correction',
  AUTHORIZATION: 'Held at checkout',
  CAPTURE: 'Paid with points',
  DEBT_REPAYMENT: 'Debt repaid',
  EXPIRY: 'Points expired',
  REDEMPTION: 'Paid with points',
  RELEASE: 'Hold released',
  REVERSAL: 'Reversed',
};

/** What a history line says: the reason the shop or a rule gave, else what kind of change it was. */
export function describeEntry(entry: { kind: string; reason: string | null; rule: { name: string } | null }): string {
  return entry.reason ?? entry.rule?.name ?? KIND_LABELS[entry.kind] ?? entry.kind;
}

export function signed(points: number): string {
  return `${points > 0 ? '+' : points < 0 ? '−' : ''}${formatPoints(Math.abs(points))}`;
}
