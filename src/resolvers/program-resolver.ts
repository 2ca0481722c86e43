import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import {
  ApiKey, ApiKeyConnection, CreateApiKeyInput, CreatedApiKey, CreatedProgram, CreateProgramInput, Program, ProgramSettingsInput,
} from '../graphql/types/program';
import { apiKeyCursor } from '../services/access';
import { toConnection } from './mappers';
import { requestContext, writerContext } from './scope';
import { CustomerTokensRevoked } from '../graphql/types/access';
import { MemberRefInput, toMemberRef } from '../graphql/types/common';
import { ErrorCode, PatronError } from '../errors';
import type { RequestContext } from '../services/shared';

const OTHER_PROGRAM = 'Operator only: another program (by default the calling key\'s own).';

const isOperator = (ctx: Context) => ctx.identity.kind === 'key' && ctx.identity.operator;

/** The program a key-management call acts on: the caller's own, or — for the operator — the one named. */
function keyManagementContext(ctx: Context, programId: string | null | undefined): RequestContext {
  const request = requestContext(ctx);
  if (programId == null || programId === request.programId) return request;
  if (!isOperator(ctx)) throw new PatronError(ErrorCode.FORBIDDEN, 'Only the operator manages the keys of another program');
  return requestContext(ctx, programId);
}

@Resolver(() => Program)
export class ProgramResolver {
  @Authorized(Role.ADMIN, Role.SERVER)
  @Query(() => Program, { description: 'The program of the calling key.' })
  program(@Ctx() ctx: Context): Promise<Program> {
    return ctx.services.programs.getProgram(requestContext(ctx));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Program)
  updateProgramSettings(@Arg('input') input: ProgramSettingsInput, @Ctx() ctx: Context): Promise<Program> {
    return ctx.services.programs.updateProgramSettings(requestContext(ctx), { ...input });
  }

  @Authorized(Role.OPERATOR)
  @Mutation(() => CreatedProgram, { description: 'Operator only: a new program with its first admin key.' })
  async createProgram(@Arg('input') input: CreateProgramInput, @Ctx() ctx: Context): Promise<CreatedProgram> {
    const { program, created } = await ctx.services.programs.createProgram(requestContext(ctx), { ...input });
    return { program, adminKey: created };
  }

  @Authorized(Role.ADMIN)
  @Query(() => [ApiKey], { deprecationReason: 'Use apiKeysConnection: the same keys a page at a time, with cursors.' })
  apiKeys(@Ctx() ctx: Context): Promise<ApiKey[]> {
    return ctx.services.access.listApiKeys(requestContext(ctx));
  }

  @Authorized(Role.ADMIN)
  @Query(() => ApiKeyConnection, { description: 'The program\'s API keys, oldest first, a page at a time (revoked ones too).' })
  async apiKeysConnection(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Keys per page: 1 to 200, default 50.' }) first?: number,
    @Arg('after', { nullable: true, description: 'A cursor (an edge\'s, or pageInfo.endCursor): read on after that key.' }) after?: string,
    @Arg('programId', () => ID, { nullable: true, description: OTHER_PROGRAM }) programId?: string,
  ): Promise<ApiKeyConnection> {
    return toConnection(await ctx.services.access.apiKeyPage(keyManagementContext(ctx, programId), { first, after }), (k) => k, apiKeyCursor);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => CreatedApiKey)
  async createApiKey(
    @Arg('input') input: CreateApiKeyInput,
    @Ctx() ctx: Context,
    @Arg('programId', () => ID, { nullable: true, description: OTHER_PROGRAM }) programId?: string,
  ): Promise<CreatedApiKey> {
    const { apiKey, secret } = await ctx.services.access.createApiKey(keyManagementContext(ctx, programId), { role: input.role, name: input.name });
    return { apiKey, secret };
  }

  @Authorized(Role.ADMIN, Role.SERVER)
  @Mutation(() => CustomerTokensRevoked, {
    description: 'Every customer token issued for the member so far stops working (requests at once, open subscriptions within seconds); tokens issued afterwards work.',
  })
  revokeCustomerTokens(@Arg('member') member: MemberRefInput, @Ctx() ctx: Context): Promise<CustomerTokensRevoked> {
    return ctx.services.access.revokeCustomerTokens(writerContext(ctx), toMemberRef(member));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ApiKey, { description: 'Revokes a key of the program (the operator: of any program). A program\'s last admin key is refused (INVALID_STATE).' })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<ApiKey> {
    return ctx.services.access.revokeApiKey(requestContext(ctx), id, { anyProgram: isOperator(ctx) });
  }
}
