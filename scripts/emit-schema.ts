import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LocalPubSub } from '../src/graphql/pubsub';
import { createSchema, printSdl } from '../src/graphql/schema';

/** Writes schema.graphql from the code; a test fails when the committed file drifts. */
async function main() {
  const schema = await createSchema(new LocalPubSub({ logger: console }));
  const file = path.resolve(__dirname, '..', 'schema.graphql');
  writeFileSync(file, printSdl(schema));
  console.log(`wrote ${file}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
