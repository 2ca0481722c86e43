import { statement } from '../../db/statement';

/** The members module's SQL for contact changes (e-mail, phone): what they were, and the record of each change. */

/** The member's contact before an upsert changes it, its row locked until the transaction ends; none for a new member. */
export const lockContact = statement<[programId: string, externalId: string], { id: string; email: string | null; phone: string | null }>(
  'members.lock_contact',
  `select id, email, phone from member where program_id = ? and external_id = ? for update`,
);

export const insertContactChange = statement<
  [id: string, programId: string, memberId: string, oldEmail: string | null, newEmail: string | null, oldPhone: string | null,
    newPhone: string | null, actorKind: string, actorId: string, requestId: string | null, changedAt: Date]
>(
  'members.insert_contact_change',
  `insert into member_contact_change (id, program_id, member_id, old_email, new_email, old_phone, new_phone, actor_kind, actor_id,
     request_id, changed_at)
   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
);
