import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { requestContext } from './scope';
import type { Context } from '../graphql/context';
import { Role } from '../graphql/context';
import { LedgerVerification } from '../graphql/types/ledger';
import { JobRun } from '../graphql/types/operations';

@Resolver()
export class OperationsResolver {
  @Authorized(Role.ADMIN)
  @Query(() => LedgerVerification, { description: 'Recomputes every account of the program from its entries and lots and lists each disagreement.' })
  verifyLedger(@Ctx() ctx: Context): Promise<LedgerVerification> {
    return ctx.services.audit.verifyLedger(requestContext(ctx));
  }

  @Authorized(Role.ADMIN)
  @Query(() => [String], { description: 'The jobs runJob accepts.' })
  jobNames(@Ctx() ctx: Context): string[] {
    return ctx.jobs.jobNames;
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => JobRun, { description: 'Runs a job now, or as of a past moment to catch up a missed run. Jobs are idempotent.' })
  runJob(@Arg('name') name: string, @Ctx() ctx: Context, @Arg('asOf', { nullable: true }) asOf?: Date): Promise<JobRun> {
    return ctx.jobs.runJob(name, asOf);
  }
}
