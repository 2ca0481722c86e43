import { Client } from 'pg';
import { readFileSync } from 'node:fs';
const cpuOf = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
async function main() {
  const c = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/lwexp' });
  await c.connect();
  const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p;
  const accts = (await c.query(`select a.id, a.program_id from account a join member m on m.id = a.member_id where m.external_id like 'm%' limit 200`)).rows;
  const run = async (n: number) => {
    const t0 = cpuOf(pid);
    for (let i = 0; i < n; i++) {
      const a = accts[i % accts.length];
      await c.query('begin');
      const r = await c.query({ name: 's', text: 'select available from account where id = $1 for update', values: [a.id] });
      const e = await c.query({ name: 'e', text: `insert into ledger_entry (program_id, account_id, kind, amount, delta_available, delta_pending, delta_reserved, available_after, pending_after, reserved_after, cause_type, created_at) values ($1,$2,'accrual',10,10,0,0,$3,0,0,'api',now()) returning id`, values: [a.program_id, a.id, Number(r.rows[0].available) + 10] });
      await c.query({ name: 'l', text: `insert into lot (program_id, account_id, source_entry_id, amount, remaining, available_at, activated_at, expires_at, created_at) values ($1,$2,$3,10,10,now(),now(),now()+interval '1 year',now())`, values: [a.program_id, a.id, e.rows[0].id] });
      await c.query({ name: 'u', text: `update account set available = available + 10, lifetime_earned = lifetime_earned + 10, entry_count = entry_count + 1 where id = $1`, values: [a.id] });
      await c.query('commit');
    }
    console.log('baseline backend CPU ms/op', ((cpuOf(pid) - t0) / n).toFixed(3));
  };
  await run(2000); await run(4000);
  await c.end();
}
main();
