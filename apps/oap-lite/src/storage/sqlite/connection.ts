/**
 * The SQLite file every SQLite domain store works on: opened (WAL, synchronous=NORMAL) and
 * migrated at init, with a cache of prepared statements. better-sqlite3 is synchronous, so every
 * store method runs to completion without interleaving; the async signatures are the interfaces'.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrations } from './schema';

export type Row = Record<string, unknown>;
export type Stmt = Database.Statement<unknown[], Row>;

/** Bound parameters per statement when expanding id lists. */
export const CHUNK = 500;

export const parseJson = <T>(text: unknown, fallback: T): T => {
  if (typeof text !== 'string' || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
};
export const num = (v: unknown): number => Number(v);
export const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
export const placeholders = (n: number): string => new Array<string>(n).fill('?').join(',');

export class SqliteConnection {
  readonly path: string;
  private db: Database.Database | null = null;
  private closed = false;
  private readonly stmtCache = new Map<string, Stmt>();

  constructor(
    private readonly dataDir: string,
    fileName = 'oap-lite.db',
  ) {
    this.path = join(dataDir, fileName);
  }

  open(): void {
    if (this.closed) throw new Error('SqliteStorage: init() after close()');
    if (this.db) return;
    mkdirSync(this.dataDir, { recursive: true });
    const db = new Database(this.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('temp_store = MEMORY');
      db.pragma('cache_size = -32000');
      db.pragma('busy_timeout = 5000');
      this.migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  private migrate(db: Database.Database): void {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    db.transaction(() => {
      const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
      const current = row.v ?? 0;
      if (current > migrations.length) {
        throw new Error(
          `SqliteStorage: ${this.path} has schema version ${current}, newer than this build (${migrations.length})`,
        );
      }
      for (let v = current; v < migrations.length; v++) db.exec(migrations[v]!);
      if (current < migrations.length) {
        db.prepare('DELETE FROM schema_version').run();
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migrations.length);
      }
    }).immediate();
  }

  close(): void {
    this.closed = true;
    const db = this.db;
    this.db = null;
    this.stmtCache.clear();
    if (db && db.open) {
      try {
        db.pragma('optimize');
      } catch {
        /* best effort */
      }
      db.close();
    }
  }

  /** The open database; throws before init() and after close(). */
  get conn(): Database.Database {
    if (!this.db) throw new Error(this.closed ? 'SqliteStorage is closed' : 'SqliteStorage: call init() first');
    return this.db;
  }

  /** A prepared statement, compiled once per SQL text. */
  stmt(sql: string): Stmt {
    let s = this.stmtCache.get(sql);
    if (!s) {
      if (this.stmtCache.size >= 256) this.stmtCache.clear();
      s = this.conn.prepare(sql) as Stmt;
      this.stmtCache.set(sql, s);
    }
    return s;
  }
}
