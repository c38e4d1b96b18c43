/**
 * Stages the records of one upload stream with bounded memory. Up to `memoryRecords` records are
 * held in memory; past that they go as JSON lines to a file of the stream's own in the staging
 * directory, and the stream is paused while that file lags behind (so gRPC flow control slows
 * the agent down instead of this process buffering). Nothing reaches storage until the stream
 * completed: then the records are read back in chunks. A stream that ends any other way calls
 * discard(), which removes the file.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface StagingOptions {
  /** Directory for the spill files (created when first needed). */
  dir: string;
  /** Records of one stream held in memory before they spill to its file. */
  memoryRecords: number;
}

/** What a staged stream needs from its source: stop and restart the flow of messages. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

interface SpillFile {
  path: string;
  out: WriteStream;
  error: Error | null;
}

export class StagedRecords<T> {
  private memory: T[] = [];
  private file: SpillFile | null = null;
  private discarded = false;
  /** Records pushed so far. */
  count = 0;

  constructor(
    private readonly options: StagingOptions,
    private readonly flow: FlowControl,
  ) {}

  push(record: T): void {
    this.memory.push(record);
    this.count++;
    if (this.memory.length >= this.options.memoryRecords) this.spill();
  }

  /** Whether records went to a file (the stream was larger than the memory bound). */
  get spilled(): boolean {
    return this.file !== null;
  }

  private spill(): void {
    const file = this.file ?? this.openFile();
    if (file.error) throw file.error;
    let text = '';
    for (const r of this.memory) text += JSON.stringify(r) + '\n';
    this.memory = [];
    if (!file.out.write(text)) {
      this.flow.pause();
      file.out.once('drain', () => this.flow.resume());
    }
  }

  private openFile(): SpillFile {
    mkdirSync(this.options.dir, { recursive: true });
    const path = join(this.options.dir, `upload-${randomUUID()}.ndjson`);
    const file: SpillFile = { path, out: createWriteStream(path, { flags: 'wx' }), error: null };
    file.out.on('error', (err) => {
      file.error = err;
      // A paused stream would wait for a drain that never comes: let it run to its failure.
      this.flow.resume();
    });
    this.file = file;
    return file;
  }

  /** The staged records in push order, `size` at a time. Throws the spill file's write error, if any. */
  async *chunks(size: number): AsyncGenerator<T[]> {
    const file = this.file;
    if (file) {
      await new Promise<void>((resolve, reject) => {
        if (file.error) return reject(file.error);
        file.out.once('error', reject);
        file.out.end(() => resolve());
      });
      if (file.error) throw file.error;
      const lines = createInterface({ input: createReadStream(file.path), crlfDelay: Infinity });
      let chunk: T[] = [];
      for await (const line of lines) {
        if (line.length === 0) continue;
        chunk.push(JSON.parse(line) as T);
        if (chunk.length >= size) {
          yield chunk;
          chunk = [];
        }
      }
      if (chunk.length > 0) yield chunk;
    }
    for (let i = 0; i < this.memory.length; i += size) yield this.memory.slice(i, i + size);
  }

  /** Drops everything staged; idempotent. */
  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    this.memory = [];
    const file = this.file;
    if (!file) return;
    file.out.destroy();
    await rm(file.path, { force: true });
  }
}
