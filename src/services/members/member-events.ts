import type { MemberRecord } from './member-service';

/** The members module's domain events. */
export const MemberEvent = {
  /** A member was created: raised in the registering transaction (the welcome bonus hooks in). */
  REGISTERED: 'member.registered',
} as const;

export const MEMBER_TOPIC = 'MEMBER_CHANGED';

declare module '../shared/hooks' {
  interface DomainEvents {
    'member.registered': MemberRecord;
  }
}
