import * as store from './book-store';

/**
 * A lock on the account of the member another module's SQL finds (see {@link accountLock}).
 * Opaque: only `AccountBook.openFound` runs it, so no account is locked without being brought
 * up to date (expired and activated lots, debt repaid).
 */
export interface AccountLock<K extends readonly unknown[]> {
  readonly name: string;
  /** Phantom: ties the key tuple to the lock. */
  readonly __key?: K;
}

interface DeclaredLock {
  statement: ReturnType<typeof store.lockAccountOfMemberIn>;
  keyLength: number;
}

const declared = new WeakMap<AccountLock<readonly unknown[]>, DeclaredLock>();

/**
 * Declares a lock on the account of the member `memberIdSql` finds: SQL of the calling module
 * selecting one member id from its `key` parameters (`?` placeholders), run inside the lock
 * statement, so finding the member costs no round trip of its own. The statement is the
 * ledger's, named `ledger.lock_account_by_<name>` beside the locks by a member column.
 */
export function accountLock<K extends readonly unknown[]>(name: string, memberIdSql: string): AccountLock<K> {
  const lock: AccountLock<K> = Object.freeze({ name: `ledger.lock_account_by_${name}` });
  const keyLength = memberIdSql.split('?').length - 1;
  declared.set(lock, { statement: store.lockAccountOfMemberIn(lock.name, memberIdSql), keyLength });
  return lock;
}

/** The lock's statement, for AccountBook alone (not exported from the module). */
export function lockStatementOf(lock: AccountLock<readonly unknown[]>, key: readonly unknown[]): DeclaredLock['statement'] {
  const found = declared.get(lock);
  if (!found || found.keyLength !== key.length) throw new Error(`${lock.name}: ${key.length} key values for ${found?.keyLength ?? 'no'} placeholders`);
  return found.statement;
}
