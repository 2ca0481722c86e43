import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { badInput } from '../errors';
import { Program } from './program';

export enum ApiKeyRole {
  SERVER = 'server',
  ADMIN = 'admin',
}

/** A program's API key. Only a SHA-256 hash of the secret is stored. */
@Entity({ tableName: 'api_key' })
export class ApiKey {
  @PrimaryKey({ type: 'uuid' })
  id: string;

  @Index({ name: 'api_key_program_id_index' })
  @ManyToOne(() => Program, { deleteRule: 'cascade', ref: true })
  program: Ref<Program>;

  @Enum({ items: () => ApiKeyRole, nativeEnumName: 'api_key_role' })
  role: ApiKeyRole;

  @Property({ type: 'text' })
  name: string;

  @Property({ type: 'text', unique: true })
  secretHash: string;

  /** The first characters of the key, so people can tell keys apart. */
  @Property({ type: 'text' })
  prefix: string;

  /** The installation's first key: it may also create programs. */
  @Property({ type: 'boolean', default: false })
  operator: boolean = false;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;

  /** A key of `program` for the secret whose hash is given; the name is 1 to 100 characters. */
  constructor(
    program: Ref<Program>,
    key: { role: ApiKeyRole; name: string; secretHash: string; prefix: string; operator?: boolean },
    createdAt: Date,
    id: string = randomUUID(),
  ) {
    if (typeof key.name !== 'string' || !key.name.trim() || key.name.length > 100) {
      throw badInput('name must be 1 to 100 characters', { field: 'name' });
    }
    if (!Object.values(ApiKeyRole).includes(key.role)) {
      throw badInput(`role must be one of ${Object.values(ApiKeyRole).join(', ')}`, { field: 'role' });
    }
    if (!/^[0-9a-f]{64}$/.test(key.secretHash)) throw new Error('secretHash must be a SHA-256 hex digest');
    this.id = id;
    this.program = program;
    this.role = key.role;
    this.name = key.name;
    this.secretHash = key.secretHash;
    this.prefix = key.prefix;
    this.operator = key.operator ?? false;
    this.createdAt = createdAt;
  }

  /**
   * The key PATRON_ADMIN_KEY names: the operator's, an admin key, and live again if it was
   * revoked. Says whether anything changed.
   */
  reinstateAsOperator(): boolean {
    if (this.operator && this.role === ApiKeyRole.ADMIN && this.revokedAt === null) return false;
    this.operator = true;
    this.role = ApiKeyRole.ADMIN;
    this.revokedAt = null;
    return true;
  }

  /** Revoking twice keeps the first time. */
  revoke(at: Date): void {
    this.revokedAt ??= at;
  }
}
