import { withClient } from './faults';

/**
 * A trigger on ledger_entry, installed in a suite's own database, that makes the next inserts
 * fail with a chosen SQLSTATE (40001, 40P01, …) or sleep. The count lives in a sequence, which
 * a rollback does not undo, so "fail the first N attempts" survives the retries it causes.
 */
export async function installFaultTrigger(url: string): Promise<void> {
  await withClient(url, (c) =>
    c.query(`
      create sequence fault_attempt;
      create table fault_plan (code text, failures int not null default 0, sleep_ms int not null default 0);
      insert into fault_plan (code) values (null);
      create function inject_fault() returns trigger language plpgsql as $$
      declare plan fault_plan;
      begin
        select * into plan from fault_plan;
        if plan.sleep_ms > 0 then perform pg_sleep(plan.sleep_ms / 1000.0); end if;
        if plan.code is not null and nextval('fault_attempt') <= plan.failures then
          raise exception 'injected failure %', plan.code using errcode = plan.code;
        end if;
        return new;
      end $$;
      create trigger inject_fault before insert on ledger_entry for each row execute function inject_fault();
    `),
  );
}

/** The next `failures` ledger inserts fail with `code` (any number for "always"); null disarms. */
export async function armFault(url: string, plan: { code?: string | null; failures?: number; sleepMs?: number }): Promise<void> {
  await withClient(url, async (c) => {
    await c.query('update fault_plan set code = $1, failures = $2, sleep_ms = $3', [plan.code ?? null, plan.failures ?? 0, plan.sleepMs ?? 0]);
    await c.query('alter sequence fault_attempt restart');
  });
}

/** How many inserts met the armed fault since it was armed (attempts, retries included). */
export async function faultAttempts(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query('select case when is_called then last_value else 0 end::int as n from fault_attempt');
    return rows[0].n as number;
  });
}
