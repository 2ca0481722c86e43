import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType({ description: 'Every customer token issued for the member until now stops working; new ones can be issued.' })
export class CustomerTokensRevoked {
  @Field(() => ID) memberId!: string;
  @Field() revokedAt!: Date;
}
