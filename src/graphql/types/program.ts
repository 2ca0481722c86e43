import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsBoolean, IsIn, IsInt, IsOptional, Length, Matches, Max, Min } from 'class-validator';
import { ApiKeyRole } from '../../entities/api-key';
import { NegativeBalancePolicy } from '../../entities/program';
import { PageInfo } from './common';

registerEnumType(ApiKeyRole, { name: 'ApiKeyRole', description: 'server: a storefront backend; admin: the shop\'s staff.' });
registerEnumType(NegativeBalancePolicy, {
  name: 'NegativeBalancePolicy',
  description: 'When points taken back from a cancelled or returned order were already spent.',
  valuesConfig: {
    ALLOW_DEBT: { description: 'The account owes the rest as debt; points that become available repay it first.' },
    TAKE_AVAILABLE: { description: 'Only what the account still has is taken; the rest is forgiven.' },
  },
});

@ObjectType({ description: 'A loyalty program (one shop) and its settings.' })
export class Program {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field({ description: 'ISO 4217 currency of the shop.' }) currency!: string;
  @Field(() => Int, { description: 'Money value of one point in minor units (100 = 1 point is 1 ruble).' }) pointValueMinor!: number;
  @Field(() => Int, { nullable: true, description: 'Lifetime of points when an accrual names none; null = they never expire.' })
  defaultLifetimeDays!: number | null;
  @Field(() => Int, { description: 'Days new points stay pending when an accrual names no delay.' }) pendingDays!: number;
  @Field(() => Int, { description: 'Largest share of an order, in percent, payable with points.' }) maxRedeemPercent!: number;
  @Field({ description: 'IANA time zone of the shop.' }) timeZone!: string;
  @Field(() => Int, { description: 'Seconds an uncaptured authorization holds points.' }) authorizationTtlSeconds!: number;
  @Field(() => Int, { description: 'Days before a member\'s birthday the birthday event is raised; 0 = on the day.' })
  birthdayDaysBefore!: number;
  @Field({ description: 'Sale items cannot be paid with points.' }) excludeOnSale!: boolean;
  @Field({ description: 'Gift cards cannot be paid with points.' }) excludeGiftCards!: boolean;
  @Field({ description: 'Delivery can be paid with points.' }) deliveryEligible!: boolean;
  @Field({ description: 'Orders earn points on the part paid with points too.' }) earnOnPointsPaidPart!: boolean;
  @Field(() => NegativeBalancePolicy) negativeBalancePolicy!: NegativeBalancePolicy;
  @Field({ description: 'Members\' referral links: {code} is replaced by their code.' }) referralLinkTemplate!: string;
  @Field(() => Int, { description: 'Levels a referral tree may have below its top member (1 to 10).' }) referralMaxDepth!: number;
  @Field(() => Int, { nullable: true, description: 'Days a customer may return an order: referrers\' awards for it stay pending until then. null: pendingDays.' })
  returnWindowDays!: number | null;
  @Field({ description: 'Members\' phone numbers written without a country code are read as numbers of this region (ISO 3166-1 alpha-2, e.g. RU, US).' })
  phoneDefaultRegion!: string;
  @Field() createdAt!: Date;
}

@InputType()
export class ProgramSettingsInput {
  @Field({ nullable: true }) @IsOptional() @Length(1, 200) name?: string;
  @Field({ nullable: true }) @IsOptional() @Matches(/^[A-Z]{3}$/) currency?: string;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(1) @Max(1_000_000) pointValueMinor?: number;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(1) @Max(36_500) defaultLifetimeDays?: number | null;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(0) @Max(365) pendingDays?: number;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(0) @Max(100) maxRedeemPercent?: number;
  @Field({ nullable: true }) @IsOptional() @Length(1, 64) timeZone?: string;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(10) @Max(604_800) authorizationTtlSeconds?: number;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(0) @Max(31) birthdayDaysBefore?: number;
  @Field({ nullable: true }) @IsOptional() @IsBoolean() excludeOnSale?: boolean;
  @Field({ nullable: true }) @IsOptional() @IsBoolean() excludeGiftCards?: boolean;
  @Field({ nullable: true }) @IsOptional() @IsBoolean() deliveryEligible?: boolean;
  @Field({ nullable: true }) @IsOptional() @IsBoolean() earnOnPointsPaidPart?: boolean;
  @Field(() => NegativeBalancePolicy, { nullable: true }) @IsOptional() @IsIn(Object.values(NegativeBalancePolicy))
  negativeBalancePolicy?: NegativeBalancePolicy;
  @Field({ nullable: true }) @IsOptional() @Length(1, 500) referralLinkTemplate?: string;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(1) @Max(10) referralMaxDepth?: number;
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(0) @Max(365) returnWindowDays?: number | null;
  @Field({ nullable: true, description: 'ISO 3166-1 alpha-2 region (RU, US, DE …) whose numbering plan reads phones given without a country code.' })
  @IsOptional() phoneDefaultRegion?: string;
}

@InputType()
export class CreateProgramInput extends ProgramSettingsInput {
  @Field() @Length(1, 200) declare name: string;
}

@ObjectType({ description: 'An API key. Its secret is shown once, when it is created.' })
export class ApiKey {
  @Field(() => ID) id!: string;
  @Field(() => ApiKeyRole) role!: ApiKeyRole;
  @Field() name!: string;
  @Field({ description: 'The first characters of the secret, to tell keys apart: `ptn_adm_` or `ptn_srv_` and 6 of its random characters (only the first 8 characters for older keys and a PATRON_ADMIN_KEY).' })
  prefix!: string;
  @Field({ description: 'The installation\'s first key; it may also create programs.' }) operator!: boolean;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true }) revokedAt!: Date | null;
}

@ObjectType({ simpleResolvers: true })
export class ApiKeyEdge {
  @Field({ description: 'Pass as `after` to read on from this key.' }) cursor!: string;
  @Field(() => ApiKey) node!: ApiKey;
}

@ObjectType({ description: 'A page of API keys, oldest first: `nodes` for the keys alone, `edges` with a cursor for each (Relay style).' })
export class ApiKeyConnection {
  @Field(() => [ApiKey]) nodes!: ApiKey[];
  @Field(() => [ApiKeyEdge]) edges!: ApiKeyEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKey) apiKey!: ApiKey;
  @Field({ description: 'Send as `Authorization: Bearer <secret>`. Shown only now.' }) secret!: string;
}

@InputType()
export class CreateApiKeyInput {
  @Field(() => ApiKeyRole) @IsIn(Object.values(ApiKeyRole)) role!: ApiKeyRole;
  @Field() @Length(1, 100) name!: string;
}

@ObjectType()
export class CreatedProgram {
  @Field(() => Program) program!: Program;
  @Field(() => CreatedApiKey, { description: 'The new program\'s first admin key.' }) adminKey!: CreatedApiKey;
}
