import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';

/** What a customer-facing id stands for: each kind has its own key, so an entry's id never reads as a lot's. */
export type CustomerIdKind = 'entry' | 'lot';

/**
 * Ids as customers see them. Ledger entries and lots are numbered by one sequence across the
 * installation, so their ids would tell a customer how many entries every shop writes. To a
 * customer an entry's id is instead the entry number and its member's id (first 8 bytes),
 * encrypted as one AES block under a secret of the installation: 22 characters that are the
 * same on every read (caches and cursors keep working), reveal nothing of the count, and open
 * only for the member they were made for.
 */
export class CustomerIds {
  private readonly keys: Record<CustomerIdKind, Buffer>;

  constructor(secret: string) {
    const key = (kind: CustomerIdKind) => Buffer.from(hkdfSync('sha256', secret, 'patron', `customer-ids:${kind}`, 16));
    this.keys = { entry: key('entry'), lot: key('lot') };
  }

  /** The customer-facing id of row `serial` of `kind`, which belongs to `memberId`. */
  encode(kind: CustomerIdKind, memberId: string, serial: number): string {
    const block = Buffer.alloc(16);
    block.writeBigUInt64BE(BigInt(serial), 0);
    memberPrefix(memberId).copy(block, 8);
    const cipher = createCipheriv('aes-128-ecb', this.keys[kind], null).setAutoPadding(false);
    return Buffer.concat([cipher.update(block), cipher.final()]).toString('base64url');
  }

  /** The row an id of {@link encode} names, or null when it was not made for this member and kind. */
  decode(kind: CustomerIdKind, memberId: string, id: string): number | null {
    const block = /^[A-Za-z0-9_-]{22}$/.test(id) ? Buffer.from(id, 'base64url') : null;
    if (!block || block.length !== 16) return null;
    const decipher = createDecipheriv('aes-128-ecb', this.keys[kind], null).setAutoPadding(false);
    const plain = Buffer.concat([decipher.update(block), decipher.final()]);
    if (!plain.subarray(8).equals(memberPrefix(memberId))) return null;
    const serial = plain.readBigUInt64BE(0);
    return serial <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(serial) : null;
  }
}

/** The first 8 bytes of a uuid. */
function memberPrefix(memberId: string): Buffer {
  return Buffer.from(memberId.replace(/-/g, '').slice(0, 16).padEnd(16, '0'), 'hex');
}
