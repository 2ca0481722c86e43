import { Field, ObjectType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';

@ObjectType({ description: 'What one run of a scheduled job did.' })
export class JobRun {
  @Field() job!: string;
  @Field({ description: 'The moment the job ran as of (now, or a missed night being caught up).' }) asOf!: Date;
  @Field({ description: 'True when the same job was running on another instance, so this run did nothing.' }) skipped!: boolean;
  @Field(() => JSONResolver, { description: 'Counts: lots, entries, accounts, batches …' }) result!: Record<string, number>;
}
