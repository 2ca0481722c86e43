import { badInput } from '../../errors';
import { isPlainObject } from '../../rules/args';

/** Event types Patron raises itself; a storefront cannot report them. */
export const SYSTEM_EVENT_TYPES = ['registration', 'birthday', 'order_paid'] as const;

const TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
const MAX_PAYLOAD_JSON = 16_000;
/** Clocks differ; an event a little ahead of ours is still believed. */
const FUTURE_SKEW_MS = 5 * 60_000;

/** Checks an event's type and payload; the known types have shapes their rules rely on. */
export function checkEvent(type: string, payload: unknown, options: { allowSystem: boolean }): Record<string, unknown> {
  if (typeof type !== 'string' || !TYPE.test(type)) {
    throw badInput('type must be lower-case letters, digits and _ . : - (at most 64), starting with a letter', { field: 'type' });
  }
  if (!options.allowSystem && (SYSTEM_EVENT_TYPES as readonly string[]).includes(type)) {
    throw badInput(`'${type}' events are raised by Patron itself (registration by upsertMember, birthday by its job, order_paid by orders)`, {
      field: 'type',
    });
  }
  const body = payload ?? {};
  if (!isPlainObject(body)) throw badInput('payload must be a JSON object', { field: 'payload' });
  if (JSON.stringify(body).length > MAX_PAYLOAD_JSON) {
    throw badInput(`payload must be at most ${MAX_PAYLOAD_JSON} characters of JSON`, { field: 'payload' });
  }
  const fail = (path: string, message: string) => badInput(`payload.${path} ${message}`, { field: `payload.${path}` });
  const optionalText = (path: string) => {
    const value = body[path];
    if (value !== undefined && (typeof value !== 'string' || !value.trim() || value.length > 500)) {
      throw fail(path, 'must be a non-empty string of at most 500 characters');
    }
  };
  switch (type) {
    case 'survey_answer': {
      const score = body.score;
      if (typeof score !== 'number' || !Number.isInteger(score) || score < 0 || score > 10) {
        throw fail('score', 'must be a whole number from 0 to 10');
      }
      optionalText('surveyId');
      break;
    }
    case 'product_review': {
      optionalText('sku');
      optionalText('productId');
      if (body.sku === undefined && body.productId === undefined) throw fail('sku', 'or payload.productId is required');
      const rating = body.rating;
      if (rating !== undefined && (typeof rating !== 'number' || !Number.isInteger(rating) || rating < 1 || rating > 5)) {
        throw fail('rating', 'must be a whole number from 1 to 5');
      }
      break;
    }
    case 'external_visit': {
      for (const field of ['referrer', 'url'] as const) {
        const value = body[field];
        if (value !== undefined && !isHttpUrl(value)) throw fail(field, 'must be an http(s) URL');
      }
      const utm = body.utm;
      if (utm !== undefined && (!isPlainObject(utm) || !Object.values(utm).every((v) => typeof v === 'string'))) {
        throw fail('utm', 'must be an object of strings, e.g. { source: "blog", campaign: "spring" }');
      }
      if (utm === undefined && body.referrer === undefined) throw fail('utm', 'or payload.referrer is required');
      break;
    }
    case 'newsletter_subscription':
      optionalText('channel');
      break;
  }
  return body;
}

/** When an event happened: now when not given; never invalid, nor more than a little ahead of now. */
export function checkOccurredAt(occurredAt: Date | null | undefined, now: Date): Date {
  if (occurredAt == null) return now;
  if (!(occurredAt instanceof Date) || Number.isNaN(occurredAt.getTime())) throw badInput('occurredAt must be a valid time', { field: 'occurredAt' });
  if (occurredAt.getTime() > now.getTime() + FUTURE_SKEW_MS) throw badInput('occurredAt is in the future', { field: 'occurredAt' });
  return occurredAt;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 2000) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
