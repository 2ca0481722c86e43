import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const db = (globalThis as any).__patronEmbedded;
  if (db) await db.stop();
  // The server's files are gone with it (not persistent); its emptied folder goes too.
  const dir = (globalThis as any).__patronEmbeddedDir;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
