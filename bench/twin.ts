/**
 * A second program made like the first, for the tier rows: the first program pays orders with no
 * tier structure, its twin pays the same kind of orders under one. A structure belongs to a
 * program, so only two programs let payOrder with tiers and without run in turns (see
 * interleave.ts), minutes apart they differed by more than the machine drifted.
 */
import type { Client } from 'pg';
import { GraphQLClient } from './load';
import { seed } from './seed';

export interface TwinProgram {
  programId: string;
  adminKey: string;
  serverKey: string;
  memberIds: string[];
}

/** The settings the twin copies from the first program: everything that changes what an order earns or costs. */
const SETTINGS = `currency timeZone pointValueMinor defaultLifetimeDays pendingDays maxRedeemPercent negativeBalancePolicy
  earnOnPointsPaidPart deliveryEligible excludeGiftCards excludeOnSale authorizationTtlSeconds returnWindowDays`;

/**
 * Creates the twin over the API with the first program's settings (`operatorKey` is the
 * operator's admin key of the first), gives it a server key and seeds it with as many members,
 * named alike ('bench-<n>'), as the first.
 */
export async function createTwin(url: string, operatorKey: string, db: Client, members: number, log: (msg: string) => void): Promise<TwinProgram> {
  const operator = new GraphQLClient(url, operatorKey, 1);
  const { program: settings } = await operator.request<{ program: Record<string, unknown> }>(`{ program { ${SETTINGS} } }`);
  const { createProgram } = await operator.request<{ createProgram: { program: { id: string }; adminKey: { secret: string } } }>(
    'mutation Create($input: CreateProgramInput!) { createProgram(input: $input) { program { id } adminKey { secret } } }',
    { input: { ...settings, name: 'bench twin (tiers)' } },
  );
  operator.close();
  const admin = new GraphQLClient(url, createProgram.adminKey.secret, 1);
  const { createApiKey } = await admin.request<{ createApiKey: { secret: string } }>(
    'mutation { createApiKey(input: { name: "bench", role: SERVER }) { secret } }',
  );
  admin.close();
  const t0 = Date.now();
  const seeded = await seed(db, createProgram.program.id, members);
  log(`twin program for the tier rows: ${members} members seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { programId: createProgram.program.id, adminKey: createProgram.adminKey.secret, serverKey: createApiKey.secret, memberIds: seeded.memberIds };
}
