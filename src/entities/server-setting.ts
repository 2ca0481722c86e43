import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** A value the installation keeps for all its instances (e.g. the customer-token secret). */
@Entity({ tableName: 'server_setting' })
export class ServerSetting {
  @PrimaryKey({ type: 'text' })
  key!: string;

  @Property({ type: 'text' })
  value!: string;
}
