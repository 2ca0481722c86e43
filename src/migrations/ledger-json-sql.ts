/**
 * JSON built in SQL by the ledger's database functions, byte for byte as the general path's
 * JSON.stringify writes it, for their migrations.
 */
// The JSON the function writes is built with plain expressions, not helper SQL functions: called
// from PL/pgSQL in a transaction of its own, a helper is set up again on every call, which cost
// more than the rest of the write.

/** A value as JSON text the way JSON.stringify writes it (null for null). */
export const json = (expr: string) => `coalesce(to_json(${expr})::text, 'null')`;

/** An instant as JavaScript's Date.prototype.toISOString writes it. */
export const iso = (expr: string) => `to_char(${expr} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** An entry (a ledger_entry row) as the general path's EntryRecord: its keys in toEntryRecord's order. */
export const entryJson = (e: string, memberId: string, lotId: string) =>
  `'{"id":' || ${e}.id || ',"programId":' || ${json(`${e}.program_id`)} || ',"accountId":' || ${json(`${e}.account_id`)}
    || ',"memberId":' || ${json(memberId)} || ',"kind":' || ${json(`${e}.kind`)} || ',"amount":' || ${e}.amount
    || ',"deltaAvailable":' || ${e}.delta_available || ',"deltaPending":' || ${e}.delta_pending
    || ',"deltaReserved":' || ${e}.delta_reserved || ',"deltaDebt":' || ${e}.delta_debt
    || ',"available":' || ${e}.available_after || ',"pending":' || ${e}.pending_after || ',"reserved":' || ${e}.reserved_after
    || ',"causeType":' || ${json(`${e}.cause_type`)} || ',"causeId":' || ${json(`${e}.cause_id`)}
    || ',"ruleVersionId":' || ${json(`${e}.rule_version_id`)} || ',"reason":' || ${json(`${e}.reason`)}
    || ',"idempotencyKey":' || ${json(`${e}.idempotency_key`)} || ',"reversesEntryId":' || ${json(`${e}.reverses_entry_id`)}
    || ',"partlyReversesEntryId":' || ${json(`${e}.partly_reverses_entry_id`)}
    || ',"authorizationId":' || ${json(`${e}.authorization_id`)} || ',"lotId":' || ${json(lotId)}
    || ',"ownerType":' || ${json(`${e}.owner_type`)} || ',"ownerId":' || ${json(`${e}.owner_id`)}
    || ',"createdAt":"' || ${iso(`${e}.created_at`)} || '"}'`;

