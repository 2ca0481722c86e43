import { randomUUID } from 'node:crypto';
import type { UnitOfWork } from '../../db/database';
import type { RequestContext } from '../shared';
import { raise } from '../shared';
import { insertContactChange, lockContact } from './contact-store';
import { MEMBER_TOPIC, MemberEvent } from './member-events';

/** A member's e-mail and phone. */
export interface Contact {
  email: string | null;
  phone: string | null;
}

/**
 * `member.contact_changed`: a key changed the member's e-mail or phone. It carries the old
 * contact, so the member can be told at the address they had (someone else may control the new
 * one); a field that did not change is absent from `changed`.
 */
export interface ContactChangedEvent {
  memberId: string;
  externalId: string;
  previous: Contact;
  current: Contact;
  changed: Array<keyof Contact>;
  /** Who sent the change: the key's role and id. */
  changedBy: { kind: RequestContext['kind']; id: string };
  requestId: string;
  changedAt: string;
}

/**
 * Before an upsert that may change a member's contact (gives or clears an e-mail or phone): the
 * member's e-mail and phone as they are, the row locked so the comparison after the write is with
 * what it replaced. Nothing is read when the input touches neither (or the member is new).
 */
export async function contactBeforeUpsert(
  tx: UnitOfWork, programId: string, externalId: string, touchesContact: boolean,
): Promise<(Contact & { id: string }) | null> {
  if (!touchesContact) return null;
  const [row] = await tx.run(lockContact, [programId, externalId]);
  return row ?? null;
}

/**
 * After the write: when the e-mail or phone differs from `before`, records who changed what and
 * raises `member.contact_changed` in the same transaction (the outbox delivers it).
 */
export async function recordContactChange(
  tx: UnitOfWork, ctx: RequestContext, before: (Contact & { id: string }) | null,
  after: Contact & { id: string; externalId: string }, now: Date,
): Promise<void> {
  if (!before || before.id !== after.id) return;
  const changed = (['email', 'phone'] as const).filter((field) => before[field] !== after[field]);
  if (changed.length === 0) return;
  const emailChanged = changed.includes('email');
  const phoneChanged = changed.includes('phone');
  await tx.run(insertContactChange, [
    randomUUID(), ctx.programId, after.id,
    emailChanged ? before.email : null, emailChanged ? after.email : null,
    phoneChanged ? before.phone : null, phoneChanged ? after.phone : null,
    ctx.kind, ctx.id, ctx.requestId, now,
  ]);
  const event: ContactChangedEvent = {
    memberId: after.id,
    externalId: after.externalId,
    previous: { email: before.email, phone: before.phone },
    current: { email: after.email, phone: after.phone },
    changed,
    changedBy: { kind: ctx.kind, id: ctx.id },
    requestId: ctx.requestId,
    changedAt: now.toISOString(),
  };
  await raise(tx, MemberEvent.CONTACT_CHANGED, MEMBER_TOPIC, { programId: ctx.programId, memberId: after.id }, event);
  ctx.logger.info({ memberId: after.id, changed }, 'member contact changed');
}
