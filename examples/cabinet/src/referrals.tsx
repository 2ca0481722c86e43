import { useState } from 'preact/hooks';
import type { MemberReferralsFragment } from '../../../client/index';
import { formatDate, formatPoints } from './format';

type Node = MemberReferralsFragment['referralTree']['nodes'][number];

/** The member's referral link, their network's figures per level, and its first levels as a tree. */
export function ReferralCard({ member }: { member: MemberReferralsFragment }) {
  const stats = member.referralStats;
  return (
    <section class="card" data-testid="referrals">
      <h2>Invite friends</h2>
      <ReferralLink link={member.referralLink} />
      <p class="figures">
        <span><strong data-testid="direct-referrals" data-value={stats.directReferrals}>{formatPoints(stats.directReferrals)}</strong> {stats.directReferrals === 1 ? 'friend' : 'friends'} joined through you</span>
        <span><strong data-testid="network-size" data-value={stats.networkSize}>{formatPoints(stats.networkSize)}</strong> in your whole network</span>
        <span><strong data-testid="referral-points" data-value={stats.pointsEarned}>{formatPoints(stats.pointsEarned)}</strong> points earned from it</span>
      </p>
      {stats.levels.length > 0 && (
        <div class="network">
          <table>
            <thead>
              <tr><th>Level</th><th class="num">Members</th><th class="num">Paid orders</th><th class="num">Points for you</th></tr>
            </thead>
            <tbody>
              {stats.levels.map((l) => (
                <tr key={l.level} data-testid="referral-level" data-level={l.level} data-members={l.members} data-orders={l.paidOrders} data-points={l.pointsEarned}>
                  <td>{l.level === 1 ? 'Your friends' : `Level ${l.level}`}</td>
                  <td class="num">{formatPoints(l.members)}</td>
                  <td class="num">{formatPoints(l.paidOrders)}</td>
                  <td class="num">{formatPoints(l.pointsEarned)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Tree nodes={member.referralTree.nodes} root={member.id} />
          {stats.networkSize > member.referralTree.size && <p class="muted">The first levels of your network; the table counts all of it.</p>}
        </div>
      )}
    </section>
  );
}

function ReferralLink({ link }: { link: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(link);
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };
  return (
    <div class="link">
      <input readOnly value={link} data-testid="referral-link" aria-label="Your referral link" onFocus={(e) => e.currentTarget.select()} />
      <button type="button" data-testid="copy-link" onClick={copy}>{copied ? 'Copied' : 'Copy'}</button>
    </div>
  );
}

/** The flat `nodes` (each names its referrer) drawn as nested lists under the member. */
function Tree({ nodes, root }: { nodes: Node[]; root: string }) {
  const children = (id: string) => nodes.filter((n) => n.referrerId === id);
  const branch = (id: string) => {
    const kids = children(id);
    return kids.length === 0 ? null : (
      <ul>
        {kids.map((n) => (
          <li key={n.memberId} data-testid="referral-node" data-level={n.level}>
            {n.name ?? 'A friend'}
            {n.referredAt && <span class="muted"> · joined {formatDate(n.referredAt)}</span>}
            {branch(n.memberId)}
          </li>
        ))}
      </ul>
    );
  };
  return <div class="tree" aria-label="Your network">{branch(root)}</div>;
}
