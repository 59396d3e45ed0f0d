import type { Database } from "bun:sqlite";
import { COLUMNS, RequestLogStore, rowValues } from "../db/request-log.ts";

/**
 * For tests: (re)creates a TEMP table `requests` on this connection holding every logged row, one
 * SQL row per request with the log's column names, so a test can check the log with SQL. The log
 * itself stores compressed chunks (db/request-log.ts); call this again after more rows are written.
 * Returns the connection, for `requestsTable(db).query(...)`.
 */
export function requestsTable(sqlite: Database): Database {
  sqlite.run("DROP TABLE IF EXISTS temp.requests");
  sqlite.run(`CREATE TEMP TABLE requests (${COLUMNS.join(", ")})`);
  const insert = sqlite.prepare(`INSERT INTO temp.requests (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`);
  for (const row of new RequestLogStore(sqlite).rows()) insert.run(...(rowValues(row) as never[]));
  insert.finalize();
  return sqlite;
}
