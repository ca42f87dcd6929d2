// What the wrapper's reads ask of Odoo: its contacts (res_partner, every
// customer, vendor and employee of the company, not only the users') are
// read by id, never scanned and shipped whole to be joined here. Counted on
// Odoo's own statistics (pg_stat_user_tables), which is what Odoo's
// database does, whatever the control plane's plan says.
import assert from "node:assert/strict";
import postgres from "postgres";
import { asMember, odooNow, reconcile, withDatabases } from "./odoo.ts";

const unsanitized = { sanitizeOps: false, sanitizeResources: false };

/** Contacts the test adds, enough that Odoo looks them up by index. */
const CONTACTS = 10_000;
const FIRST_CONTACT = 2_000_000_000;

/**
 * Waits out the statistics' flush: a backend (here the wrapper's, on Odoo's
 * side) reports its counts when idle, within 10 s.
 */
const statsSettle = () => new Promise((resolve) => setTimeout(resolve, 11_000));

async function partnerScans(odoo: postgres.Sql): Promise<{ seq: number; idx: number }> {
  const [row] = await odoo`
    select coalesce(seq_scan, 0)::int as seq, coalesce(idx_scan, 0)::int as idx
      from pg_stat_user_tables where relname = 'res_partner'`;
  return { seq: row.seq, idx: row.idx };
}

Deno.test({
  name:
    "a users' page and a project's invoices read Odoo's contacts by id: neither scans res_partner",
  ...unsanitized,
  fn: () =>
    withDatabases(async (sql, odoo) => {
      await odoo`
        insert into res_partner (id, name, complete_name, active, company_id, commercial_partner_id,
                                 is_company, type, partner_share, create_date, write_date)
        select ${FIRST_CONTACT} + g, 'Contact ' || g, 'Contact ' || g, true, 1, ${FIRST_CONTACT} + g,
               false, 'contact', true, ${odoo.unsafe(odooNow)}, ${odoo.unsafe(odooNow)}
          from generate_series(1, ${CONTACTS}) g`;
      await odoo`analyze res_partner`;
      try {
        await statsSettle();
        const before = await partnerScans(odoo);
        const { status, json: answer } = await reconcile({ mode: "full" });
        assert.equal(status, 200, JSON.stringify(answer));
        const users = answer.phases.find((phase: { subject: string }) => phase.subject === "users");
        assert.ok(users?.complete, JSON.stringify(answer));
        await statsSettle();
        const afterReconcile = await partnerScans(odoo);
        assert.equal(
          afterReconcile.seq - before.seq,
          0,
          "a full pass's users' page scanned res_partner",
        );
        assert.ok(afterReconcile.idx > before.idx, "and looked its users' partners up by id");

        // A member of project 1 (the fixture's, mirrored by the pass; its
        // customer has posted invoices), calling as PostgREST would.
        const invoices = await asMember(
          sql,
          "odoo-1",
          (tx) => tx`select invoice_id from ops.odoo_project_invoices('odoo-1')`,
        );
        assert.ok(invoices.length > 0, "project 1's customer has posted invoices in the fixture");
        await statsSettle();
        const afterInvoices = await partnerScans(odoo);
        assert.equal(afterInvoices.seq - afterReconcile.seq, 0, "the invoices scanned res_partner");
      } finally {
        await odoo`delete from res_partner where id > ${FIRST_CONTACT}`;
      }
    }),
});
