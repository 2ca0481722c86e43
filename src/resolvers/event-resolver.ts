import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { toMemberRef } from '../graphql/types/common';
import {
  AwardLimit, EventSimulation, RuleMismatchCode, SimulateEventInput, TrackEventInput, TrackEventResult,
} from '../graphql/types/rules';
import type { Simulation } from '../services/earning';
import type { TrackEventResult as TrackEventRecord } from '../services/earning';
import { toLedgerEntry, toRuleRef } from './mappers';
import { requestContext, writerContext } from './scope';

const toTrackEventResult = (r: TrackEventRecord): TrackEventResult => ({
  event: r.event,
  memberPoints: r.memberPoints,
  awards: r.awards.map((a) => ({
    rule: toRuleRef(a),
    memberId: a.memberId,
    referrerLevel: a.referrerLevel,
    points: a.points,
    entry: toLedgerEntry(a.entry),
  })),
  limited: r.limited.map((a) => ({ ...a, rule: toRuleRef(a), limitedBy: a.limitedBy as AwardLimit })),
});

const toSimulation = (s: Simulation): EventSimulation => ({
  memberPoints: s.memberPoints,
  referrerPoints: s.referrerPoints,
  rules: s.rules.map((r) => ({
    rule: toRuleRef(r),
    status: r.status as EventSimulation['rules'][number]['status'],
    matched: r.matched,
    reason: r.reason && { ...r.reason, code: r.reason.code as RuleMismatchCode },
    awards: r.awards.map((a) => ({ ...a, limitedBy: a.limitedBy as AwardLimit | null })),
  })),
});

@Resolver()
export class EventResolver {
  @Authorized(Role.ADMIN, Role.SERVER)
  @Mutation(() => TrackEventResult, { description: 'Reports what a member did; the program\'s rules award points for it, once per idempotencyKey.' })
  async trackEvent(@Arg('input') input: TrackEventInput, @Ctx() ctx: Context): Promise<TrackEventResult> {
    const result = await ctx.services.events.trackEvent(writerContext(ctx), {
      type: input.type,
      member: toMemberRef(input.member),
      payload: input.payload as Record<string, unknown> | undefined,
      occurredAt: input.occurredAt,
      idempotencyKey: input.idempotencyKey,
    });
    return toTrackEventResult(result);
  }

  @Authorized(Role.ADMIN)
  @Query(() => EventSimulation, { description: 'A dry run: what each rule would award for this event now and why the others would not. Writes nothing.' })
  async simulateEvent(@Arg('input') input: SimulateEventInput, @Ctx() ctx: Context): Promise<EventSimulation> {
    const simulation = await ctx.services.events.simulateEvent(requestContext(ctx), {
      type: input.type,
      member: toMemberRef(input.member),
      payload: input.payload as Record<string, unknown> | undefined,
      occurredAt: input.occurredAt,
      order: input.order && { ...input.order, lines: input.order.lines.map((line) => ({ ...line })) },
    });
    return toSimulation(simulation);
  }
}
