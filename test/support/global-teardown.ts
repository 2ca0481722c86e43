export default async function globalTeardown(): Promise<void> {
  const db = (globalThis as any).__patronEmbedded;
  if (db) await db.stop();
}
