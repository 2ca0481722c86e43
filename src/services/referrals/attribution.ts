import type { Database, Sql } from '../../db/database';
import { ReferralVia } from '../../entities/referral';
import { badInput, notFound } from '../../errors';
import type { MemberRef, RequestContext } from '../shared';
import type { Clock } from '../shared';
import { memberLookup } from '../members';
import { isUuid } from '../shared';
import { ReferralRefusal, generateCode, normalizeCode, refusalOf, signalProblem, type Signal } from './logic';
import * as store from './referral-store';
import type { AttributeReferralInput, AttributionResult, ReferralSignals } from './types';

/** The member a registration bound to a referrer (the member-registered hook's view). */
export interface RegisteredMember {
  id: string;
  programId: string;
  referrerId: string | null;
}

/**
 * Codes and attribution: binding a member to a referrer, once, before their first paid order,
 * unless it is the same person, would close a circle or would make the tree too deep. Every
 * attempt is recorded with its outcome. Attributions in a program are serialised by an advisory
 * lock taken before any account lock, so the closure stays whole and no lock order is reversed.
 */
export class ReferralAttribution {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** The members' codes, made now for those who have none (codes are unique per program; a clash is retried). */
  async codes(programId: string, memberIds: readonly string[]): Promise<Map<string, string>> {
    const ids = [...new Set(memberIds.filter(isUuid))];
    let codes = await store.codesOf(this.db, programId, ids);
    for (let attempt = 0; attempt < 5 && codes.size < ids.length; attempt++) {
      const missing = ids.filter((id) => !codes.has(id));
      await store.insertCodes(this.db, programId, missing.map((memberId) => ({ memberId, code: generateCode() })), this.clock.now());
      codes = await store.codesOf(this.db, programId, ids);
    }
    return codes;
  }

  /** The owner of a code; BAD_USER_INPUT when no member has it. */
  async ownerOf(db: Sql, programId: string, code: string, field: string): Promise<string> {
    const normal = typeof code === 'string' ? normalizeCode(code) : null;
    const owner = normal ? await store.memberByCode(db, programId, normal) : null;
    if (!owner) throw badInput('No member has this referral code', { field });
    return owner;
  }

  /** `attributeReferral`: by the referrer's code (via link) or naming the referrer (manual). */
  async attribute(ctx: RequestContext, input: AttributeReferralInput): Promise<AttributionResult> {
    const { programId } = ctx;
    if ((input.code == null) === (input.referrer == null)) throw badInput('Give exactly one of code, referrer', { field: 'via' });
    const signals = checkSignals(input.signals);
    return this.db.transaction(async (tx) => {
      const memberId = await this.memberId(tx, programId, input.member, 'member');
      const referrerId = input.code != null
        ? await this.ownerOf(tx, programId, input.code, 'via.code')
        : await this.memberId(tx, programId, input.referrer!, 'via.referrer');
      const via = input.code != null ? ReferralVia.LINK : ReferralVia.MANUAL;
      return this.attributeIn(tx, programId, memberId, referrerId, via, input.code ?? null, signals);
    });
  }

  /**
   * Hook of a member's registration, in its transaction: the member-service bound
   * `referrerExternalId` in member.referrer_id; the checks run here, and a refusal unbinds it
   * (the registration itself goes ahead). Mutates `member.referrerId` to what holds.
   */
  async onRegistered(tx: Sql, member: RegisteredMember): Promise<void> {
    if (!member.referrerId) return;
    const result = await this.attributeIn(tx, member.programId, member.id, member.referrerId, ReferralVia.REGISTRATION, null, []);
    if (!result.accepted) {
      await store.clearMirror(tx, member.id);
      member.referrerId = null;
    }
  }

  /**
   * A code given with placeOrder, in its transaction and before the member's account is locked:
   * binds the buyer unless refused (the order goes ahead either way). An unknown code is
   * BAD_USER_INPUT, so the order is not placed.
   */
  async atCheckout(tx: Sql, programId: string, member: MemberRef, code: string): Promise<AttributionResult> {
    const referrerId = await this.ownerOf(tx, programId, code, 'referralCode');
    const memberId = await this.memberId(tx, programId, member, 'member');
    return this.attributeIn(tx, programId, memberId, referrerId, ReferralVia.CHECKOUT, normalizeCode(code), []);
  }

  /** Binds the member under the referrer, or records why not. The caller's transaction; takes the program's tree lock. */
  async attributeIn(
    tx: Sql,
    programId: string,
    memberId: string,
    referrerId: string,
    via: ReferralVia,
    detail: string | null,
    signals: Signal[],
  ): Promise<AttributionResult> {
    await store.lockProgramTree(tx, programId);
    const now = this.clock.now();
    await store.recordSignals(tx, programId, memberId, signals, now);
    const member = (await store.memberFacts(tx, programId, 'id', memberId))!;
    if (member.referrer_id === referrerId) return { accepted: true, reason: null, memberId, referrerId, via, attemptId: null };
    const referrer = (await store.memberFacts(tx, programId, 'id', referrerId))!;
    const settings = (await store.programSettings(tx, programId))!;
    const position = memberId === referrerId ? { inNetwork: true, referrerLevel: 0, networkHeight: 0 } : await store.treePosition(tx, memberId, referrerId);
    const reason = refusalOf({
      memberId,
      referrerId,
      member: { email: member.email, phone: member.phone, signals: member.signals },
      referrer: { email: referrer.email, phone: referrer.phone, signals: referrer.signals },
      currentReferrerId: member.referrer_id,
      hasPaidOrder: member.referrer_id ? false : await store.hasPaidOrder(tx, memberId),
      referrerIsInNetwork: position.inNetwork,
      referrerLevel: position.referrerLevel,
      networkHeight: position.networkHeight,
      maxDepth: settings.referral_max_depth,
    });
    if (!reason) await store.bind(tx, programId, memberId, referrerId, via, now);
    const attempt = await store.recordAttempt(tx, { programId, memberId, referrerId, via, detail, reason, now });
    return { accepted: !reason, reason, memberId, referrerId, via, attemptId: attempt.id };
  }

  /** What the referrer named at the member's registration came to; null when none was named. */
  async atRegistration(programId: string, memberId: string): Promise<AttributionResult | null> {
    const [row] = await this.db.run(store.registrationAttempt, [programId, memberId]);
    if (!row || !row.referrer_id) return null;
    return {
      accepted: row.accepted, reason: row.reason as ReferralRefusal | null, memberId, referrerId: row.referrer_id, via: row.via, attemptId: row.id,
    };
  }

  async memberId(db: Sql, programId: string, ref: MemberRef, field: string): Promise<string> {
    const [column, value] = await memberLookup(db, programId, ref);
    const row = await store.memberFacts(db, programId, column, value);
    if (!row) throw notFound('Member', { [field]: ref });
    return row.id;
  }
}

/** The shop's hashes as signals; a malformed one is BAD_USER_INPUT. */
export function checkSignals(signals: ReferralSignals | null | undefined): Signal[] {
  const out: Signal[] = [];
  for (const [kind, hash] of [['device', signals?.deviceHash], ['ip', signals?.ipHash]] as const) {
    if (hash == null) continue;
    const problem = signalProblem(hash);
    if (problem) throw badInput(`${kind}Hash ${problem}`, { field: `${kind}Hash` });
    out.push({ kind, hash });
  }
  return out;
}

export { ReferralRefusal };
