import type { ReferralVia } from '../../entities/referral';
import type { MemberRef } from '../shared';
import type { ReferralRefusal } from './logic';

/** Device and IP hashes the shop computed for the customer's request (never the raw values). */
export interface ReferralSignals {
  deviceHash?: string | null;
  ipHash?: string | null;
}

/** `attributeReferral`: bind the member to the owner of `code`, or to the member `referrer`. */
export interface AttributeReferralInput {
  member: MemberRef;
  code?: string | null;
  referrer?: MemberRef | null;
  signals?: ReferralSignals | null;
}

/** What an attribution came to. A refusal is an answer, not an error: it is recorded for admins. */
export interface AttributionResult {
  accepted: boolean;
  reason: ReferralRefusal | null;
  memberId: string;
  /** The candidate referrer (the member's referrer when accepted). */
  referrerId: string;
  via: ReferralVia;
  /** The recorded attempt; null when the member was bound to this referrer already (a repeat). */
  attemptId: string | null;
}

export interface ReferralAttemptRecord {
  id: string;
  memberId: string;
  referrerId: string | null;
  via: ReferralVia;
  detail: string | null;
  accepted: boolean;
  reason: ReferralRefusal | null;
  createdAt: Date;
}

/** A member in a referral tree; level 0 is the tree's root. */
export interface ReferralNodeRecord {
  memberId: string;
  externalId: string;
  name: string | null;
  level: number;
  referrerId: string | null;
  via: ReferralVia | null;
  referredAt: Date | null;
}

export interface ReferralTreeNode extends ReferralNodeRecord {
  children: ReferralTreeNode[];
}

export interface ReferralTreeRecord {
  root: ReferralTreeNode;
  depth: number;
  /** Members below the root within `depth`. */
  size: number;
  /** Every node below the root, level by level: the tree without GraphQL's nesting limit. */
  nodes: ReferralTreeNode[];
}

export interface ReferralLevelStats {
  level: number;
  members: number;
  /** Paid orders of that level's members, not cancelled or wholly returned. */
  paidOrders: number;
  /** Points the member earned from that level, less what was taken back. */
  pointsEarned: number;
}

export interface ReferralStatsRecord {
  directReferrals: number;
  networkSize: number;
  paidOrders: number;
  pointsEarned: number;
  levels: ReferralLevelStats[];
}

export interface RefereeRecord extends ReferralNodeRecord {
  paidOrders: number;
  /** Points the asking member earned from this referee. */
  pointsEarned: number;
}

export interface PageRecord<T> {
  nodes: T[];
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface ReferralSiteRecord {
  id: string;
  memberId: string;
  origin: string;
  host: string;
  /** Put this line in the file at `verificationUrl`, then ask for verification. */
  token: string;
  verificationUrl: string;
  verified: boolean;
  verifiedAt: Date | null;
  checkedAt: Date | null;
  lastError: string | null;
  createdAt: Date;
}

export interface ReportVisitInput {
  member: MemberRef;
  referringUrl: string;
  signals?: ReferralSignals | null;
}

export interface VisitResult {
  /** The visitor is now bound to the site's owner. */
  bound: boolean;
  /** The verified site's owner, or null when no verified site has the referring host. */
  referrerId: string | null;
  /** Why not bound: `no_verified_site`, or the attribution's refusal. */
  reason: string | null;
}
