import type { ContactChangedEvent } from './contact-changes';
import type { MemberRecord } from './member-service';

/** The members module's domain events. */
export const MemberEvent = {
  /** A member was created: raised in the registering transaction (the welcome bonus hooks in). */
  REGISTERED: 'member.registered',
  /** A key changed the member's e-mail or phone: carries the old contact, to tell the member there. */
  CONTACT_CHANGED: 'member.contact_changed',
} as const;

export const MEMBER_TOPIC = 'MEMBER_CHANGED';

declare module '../shared/hooks' {
  interface DomainEvents {
    'member.registered': MemberRecord;
    'member.contact_changed': ContactChangedEvent;
  }
}
