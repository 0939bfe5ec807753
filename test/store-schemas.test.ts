/**
 * The two dialect modules of the metadata schema (SQLite, PostgreSQL) define the same tables:
 * same columns (name, kind of value, nullability, default present or not, primary key), same
 * indexes and unique constraints, same foreign keys. A column added to one dialect only fails here.
 */
import { describe, expect, it } from "vitest";
import { is } from "drizzle-orm";
import { getTableConfig as pgConfig, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import * as pg from "../src/stores/pg/schema.ts";
import * as sqlite from "../src/stores/sqlite/schema.ts";

type Config = ReturnType<typeof pgConfig> | ReturnType<typeof sqliteConfig>;

/** A dialect-neutral description of a table. */
function describeTable(c: Config) {
  const cols = (cs: { name: string }[]) => cs.map((x) => x.name).join(",");
  return {
    name: c.name,
    columns: Object.fromEntries(
      c.columns.map((col) => [
        col.name,
        {
          // "string" | "number" | "boolean" | "json" (an integer in boolean mode, text in json mode, jsonb all compare equal).
          value: col.dataType,
          notNull: col.notNull,
          primary: col.primary,
          unique: col.isUnique,
          hasDefault: col.hasDefault,
          enum: (col as { enumValues?: string[] }).enumValues ?? null,
        },
      ]),
    ),
    primaryKeys: c.primaryKeys.map((k) => cols(k.columns)).sort(),
    indexes: c.indexes
      .map((i) => {
        const cfg = i.config as { name: string; unique: boolean; columns: { name?: string }[] };
        return `${cfg.name}(${cfg.columns.map((x) => x.name ?? "?").join(",")})${cfg.unique ? " unique" : ""}`;
      })
      .sort(),
    foreignKeys: c.foreignKeys
      .map((fk) => {
        const r = fk.reference();
        return `${cols(r.columns)} -> ${r.foreignColumns.map((x) => `${x.name}`).join(",")} on delete ${fk.onDelete ?? "no action"}`;
      })
      .sort(),
  };
}

const sqliteTables = () => Object.values(sqlite).filter((t) => is(t, SQLiteTable)).map((t) => describeTable(sqliteConfig(t as SQLiteTable)));
const pgTables = () => Object.values(pg).filter((t) => is(t, PgTable)).map((t) => describeTable(pgConfig(t as PgTable)));
const byName = <T extends { name: string }>(ts: T[]) => Object.fromEntries(ts.map((t) => [t.name, t]));

describe("metadata schema modules (SQLite and PostgreSQL)", () => {
  it("define the same tables", () => {
    expect(pgTables().map((t) => t.name).sort()).toEqual(sqliteTables().map((t) => t.name).sort());
    expect(sqliteTables().length).toBeGreaterThan(15);
  });

  it("define the same columns, keys, indexes and foreign keys in every table", () => {
    const s = byName(sqliteTables());
    const p = byName(pgTables());
    for (const name of Object.keys(s)) expect(p[name], `table ${name}`).toEqual(s[name]);
  });

  it("the comparison sees a column, a nullability and an index that differ", () => {
    const base = sqliteTables().find((t) => t.name === "documents")!;
    const other = structuredClone(base);
    other.columns["extra"] = { ...other.columns["title"]! };
    expect(other).not.toEqual(base);
    const nullable = structuredClone(base);
    nullable.columns["title"]!.notNull = false;
    expect(nullable).not.toEqual(base);
    const indexed = structuredClone(base);
    indexed.indexes.pop();
    expect(indexed).not.toEqual(base);
  });
});
