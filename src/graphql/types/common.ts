import type { MemberRef } from '../../services/shared';
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { SafeIntResolver } from 'graphql-scalars';
import { IsEmail, IsOptional, IsUUID, Length, MaxLength } from 'class-validator';

import { badInput } from '../../errors';

@ObjectType({ simpleResolvers: true, description: 'An amount of money in minor units (kopecks, cents) with its ISO 4217 currency.' })
export class Money {
  @Field(() => SafeIntResolver, { description: 'Minor units: 100 = one ruble.' })
  amountMinor!: number;

  @Field()
  currency!: string;
}

@ObjectType({ simpleResolvers: true })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@InputType({ description: 'One way to name a member: our id, the shop\'s customer id, e-mail or phone. Give exactly one.' })
export class MemberRefInput {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID()
  id?: string;

  @Field({ nullable: true })
  @IsOptional()
  @Length(1, 200)
  externalId?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @Field({ nullable: true })
  @IsOptional()
  @Length(3, 32)
  phone?: string;
}

export function toMemberRef(input: MemberRefInput): MemberRef {
  const given = (['id', 'externalId', 'email', 'phone'] as const).filter((k) => input[k] != null);
  if (given.length !== 1) throw badInput('Name the member with exactly one of id, externalId, email, phone', { field: 'member' });
  const field = given[0];
  return { [field]: input[field] } as MemberRef;
}
