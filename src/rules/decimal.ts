/**
 * Exact decimals for rule arguments such as a percent (2.5) or a factor (1.5).
 * A value is kept as `units / 10^scale` in bigint, so 5 % of 1 000 000 is exactly 50 000,
 * with no binary floating-point drift.
 */
export interface Decimal {
  readonly units: bigint;
  readonly scale: number;
}

const DECIMAL_PATTERN = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

/** Reads a finite number or a decimal string ('2.5', '-1', '1e-3'); anything else gives undefined. */
export function parseDecimal(value: unknown): Decimal | undefined {
  if (typeof value === 'number' && !Number.isFinite(value)) return undefined;
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  // String(number) gives the shortest text that round-trips, i.e. the literal the admin typed.
  const match = DECIMAL_PATTERN.exec(String(value).trim());
  if (!match) return undefined;
  const [, sign, whole, fraction = '', exponentText = '0'] = match;
  const exponent = Number(exponentText);
  let digits = whole + fraction;
  let scale = fraction.length - exponent;
  if (scale < 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  }
  const units = BigInt(digits) * (sign === '-' ? -1n : 1n);
  return { units, scale };
}

export function decimalToNumber(value: Decimal): number {
  return Number(value.units) / 10 ** value.scale;
}

export function formatDecimal(value: Decimal): string {
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, '0');
  const whole = digits.slice(0, digits.length - value.scale);
  const fraction = digits.slice(digits.length - value.scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/**
 * floor(amount × value / divisor), computed exactly; never negative.
 * Throws when the result would not be a safe integer, rather than award a rounded number.
 */
export function mulDivFloor(amount: number, value: Decimal, divisor: number): number {
  if (!Number.isSafeInteger(amount) || !Number.isSafeInteger(divisor) || divisor <= 0) {
    throw new RangeError(`mulDivFloor needs safe integers and a positive divisor (${amount}, ${divisor})`);
  }
  const numerator = BigInt(amount) * value.units;
  if (numerator <= 0n) return 0;
  const result = numerator / (BigInt(divisor) * 10n ** BigInt(value.scale));
  if (result > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`points overflow: ${result}`);
  return Number(result);
}
