import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { Program } from './program';

export enum ApiKeyRole {
  SERVER = 'server',
  ADMIN = 'admin',
}

/** A program's API key. Only a SHA-256 hash of the secret is stored. */
@Entity({ tableName: 'api_key' })
export class ApiKey {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Program, { deleteRule: 'cascade' })
  program!: Program;

  @Enum({ items: () => ApiKeyRole, nativeEnumName: 'api_key_role' })
  role!: ApiKeyRole;

  @Property({ type: 'text' })
  name!: string;

  @Index()
  @Property({ type: 'text', unique: true })
  secretHash!: string;

  /** The first characters of the key, so people can tell keys apart. */
  @Property({ type: 'text' })
  prefix!: string;

  /** The installation's first key: it may also create programs. */
  @Property({ type: 'boolean' })
  operator: boolean = false;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;
}
