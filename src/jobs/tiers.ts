import type { TierService } from '../services/tiers';
import type { JobDefinition } from './runner';

/**
 * The requalify-tiers job: `runner.register(requalifyTiersJob(services.tiers))`. Hourly; an admin
 * catches up a missed run with `runJob('requalify-tiers', asOf)`. Ended grants fall away and
 * tiers not qualified for during the grace period go down, one set-based pass per program
 * (`TierService.requalify`).
 */
export function requalifyTiersJob(tiers: TierService, schedule = '7 * * * *'): JobDefinition {
  return { name: 'requalify-tiers', schedule, run: (asOf) => tiers.requalify(asOf) };
}
