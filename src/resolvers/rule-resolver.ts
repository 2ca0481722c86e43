import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { CauseType } from '../entities/ledger-entry';
import { RuleStatus } from '../entities/rule';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { LedgerEntry } from '../graphql/types/ledger';
import {
  AwardPart, CreateRuleInput, Rule, RuleActionType, RuleConditionType, RuleConnection, RuleDefinition, RuleDefinitionInput, RuleFilter,
  RuleRef, RuleVersion, UpdateRuleInput,
} from '../graphql/types/rules';
import { listConditions } from '../rules';
import { ruleCursor, usableActions, type RuleDefinitionInput as ServiceDefinitionInput, type RuleRecord, type RuleVersionRecord, type StoredDefinition } from '../services/earning';
import { toAwardPart, toConnection } from './mappers';
import { requestContext, writerContext } from './scope';

export const toRuleDefinition = (d: StoredDefinition): RuleDefinition => ({
  trigger: d.trigger,
  condition: d.condition ?? null,
  actions: d.actions.map((a) => ({ code: a.code, args: a.args ?? null })),
  lifetimeDays: d.lifetimeDays ?? null,
  delayDays: d.delayDays ?? null,
  caps: { ...d.caps },
  priority: d.priority ?? 0,
  exclusive: d.exclusive ?? false,
  oncePerMember: d.oncePerMember ?? false,
  activeFrom: d.activeFrom ?? null,
  activeTo: d.activeTo ?? null,
});

const toRule = (r: RuleRecord): Rule => ({ ...r, definition: toRuleDefinition(r.definition) });

const toRuleVersion = (v: RuleVersionRecord): RuleVersion => ({ ...v, definition: toRuleDefinition(v.definition) });

/** Plain data for the service: the input classes stay at the edge. */
const toDefinitionInput = (d: RuleDefinitionInput): ServiceDefinitionInput => ({
  ...d,
  actions: d.actions.map((a) => ({ code: a.code, args: a.args })),
  caps: d.caps ? { ...d.caps } : null,
});

@Resolver(() => Rule)
export class RuleResolver {
  @Authorized(Role.ADMIN)
  @Query(() => [Rule], {
    description: 'The program\'s rules, oldest first.',
    deprecationReason: 'Use rulesConnection: the same rules a page at a time, with cursors.',
  })
  async rules(@Ctx() ctx: Context, @Arg('filter', () => RuleFilter, { nullable: true }) filter?: RuleFilter): Promise<Rule[]> {
    return (await ctx.services.rules.listRules(requestContext(ctx), { ...filter })).map(toRule);
  }

  @Authorized(Role.ADMIN)
  @Query(() => RuleConnection, { description: 'The program\'s rules, oldest first, a page at a time.' })
  async rulesConnection(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Rules per page: 1 to 200, default 50.' }) first?: number,
    @Arg('after', { nullable: true, description: 'A cursor (an edge\'s, or pageInfo.endCursor): read on after that rule.' }) after?: string,
    @Arg('filter', () => RuleFilter, { nullable: true }) filter?: RuleFilter,
  ): Promise<RuleConnection> {
    const page = await ctx.services.rules.rulePage(requestContext(ctx), { first, after, filter: { ...filter } });
    return toConnection(page, toRule, ruleCursor);
  }

  @Authorized(Role.ADMIN)
  @Query(() => Rule)
  async rule(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Rule> {
    return toRule(await ctx.services.rules.getRule(requestContext(ctx), id));
  }

  @FieldResolver(() => [RuleVersion], { description: 'Every saved version, newest first.' })
  async versions(@Root() rule: Rule, @Ctx() ctx: Context): Promise<RuleVersion[]> {
    return (await ctx.loaders.ruleVersions.load(rule.id)).map(toRuleVersion);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Rule, { description: 'Saves a rule (version 1) after checking it against the catalogue.' })
  async createRule(@Arg('input') input: CreateRuleInput, @Ctx() ctx: Context): Promise<Rule> {
    const rule = await ctx.services.rules.createRule(writerContext(ctx), {
      name: input.name,
      status: input.status,
      definition: toDefinitionInput(input.definition),
    });
    return toRule(rule);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Rule, { description: 'Renames a rule and/or saves a new version of its definition.' })
  async updateRule(@Arg('input') input: UpdateRuleInput, @Ctx() ctx: Context): Promise<Rule> {
    const rule = await ctx.services.rules.updateRule(writerContext(ctx), input.id, {
      name: input.name,
      definition: input.definition ? toDefinitionInput(input.definition) : null,
    });
    return toRule(rule);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Rule, { description: 'Activates, pauses or archives a rule (archiving is final). No new version.' })
  async setRuleStatus(
    @Arg('id', () => ID) id: string,
    @Arg('status', () => RuleStatus) status: RuleStatus,
    @Ctx() ctx: Context,
  ): Promise<Rule> {
    return toRule(await ctx.services.rules.setRuleStatus(writerContext(ctx), id, status));
  }

  @Authorized(Role.ADMIN)
  @Query(() => [RuleConditionType], { description: 'The conditions rules can use, with their typed arguments.' })
  ruleConditions(): RuleConditionType[] {
    return listConditions();
  }

  @Authorized(Role.ADMIN)
  @Query(() => [RuleActionType], { description: 'The actions rules can use, with their typed arguments.' })
  ruleActions(): RuleActionType[] {
    return usableActions();
  }
}

@Resolver(() => LedgerEntry)
export class LedgerEntryRuleResolver {
  @FieldResolver(() => RuleRef, { nullable: true, description: 'The rule version that produced the points, when a rule did.' })
  async rule(@Root() entry: LedgerEntry, @Ctx() ctx: Context): Promise<RuleRef | null> {
    if (!entry.ruleVersionId) return null;
    const ref = await ctx.loaders.ruleVersion.load(entry.ruleVersionId);
    return ref && { id: ref.ruleId, name: ref.name, version: ref.version, versionId: ref.versionId };
  }

  @FieldResolver(() => [AwardPart], {
    description: 'Which rules and rule versions gave the points (one part per rule; `rule` names a version only when one rule gave them all); empty when no rule did.',
  })
  async breakdown(@Root() entry: LedgerEntry, @Ctx() ctx: Context): Promise<AwardPart[]> {
    if (entry.causeType !== CauseType.RULE) return [];
    const parts = await ctx.loaders.awardBreakdown.load(Number(entry.id));
    return parts.map(toAwardPart);
  }
}
