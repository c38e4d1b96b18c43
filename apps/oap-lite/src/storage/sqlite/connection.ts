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

/** The database file is damaged: oap-lite does not start on it. */
export class CorruptDatabaseError extends Error {
  override name = 'CorruptDatabaseError';
}

const CORRUPT = /SQLITE_CORRUPT|SQLITE_NOTADB|malformed|not a database/i;

const corruptOr = (path: string, err: unknown): Error => {
  const e = err as { code?: unknown; message?: unknown };
  if (err instanceof CorruptDatabaseError || !(CORRUPT.test(String(e.code)) || CORRUPT.test(String(e.message))))
    return err as Error;
  return corruptError(path, String(e.message));
};

const corruptError = (path: string, detail: string): CorruptDatabaseError =>
  new CorruptDatabaseError(
    `the SQLite database ${path} is corrupt (${detail}); oap-lite does not start on it: ` +
      'move the file aside (a new empty database is then created) or restore it from a backup',
  );

/**
 * SQLite finds most damage only when it reads the damaged page, which could be hours later and
 * in the middle of an upload; quick_check reads every page once at start (O(size), no index
 * cross-check), so a damaged file stops the start with its name instead.
 */
const checkIntegrity = (db: Database.Database, path: string): void => {
  const rows = db.pragma('quick_check(5)') as Array<{ quick_check: string }>;
  const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
  if (problems.length > 0) throw corruptError(path, problems.join('; '));
};

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
    let db: Database.Database;
    try {
      db = new Database(this.path);
    } catch (err) {
      throw corruptOr(this.path, err);
    }
    try {
      checkIntegrity(db, this.path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('temp_store = MEMORY');
      db.pragma('cache_size = -32000');
      db.pragma('busy_timeout = 5000');
      this.migrate(db);
    } catch (err) {
      db.close();
      throw corruptOr(this.path, err);
    }
    this.db = db;
  }

  /** A real write (a row rewritten in its own transaction): fails with SQLITE_FULL on a full disk. */
  probeWrite(): void {
    this.conn.prepare('UPDATE schema_version SET version = version').run();
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

  /** Throws before init() and after close(), as every use of the connection does. */
  checkOpen(): void {
    if (!this.db) void this.conn;
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
