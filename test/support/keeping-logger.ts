import type { LoggerService } from '@nestjs/common';

/** A Nest logger that keeps what is logged (and prints errors and warnings unless told to be quiet). */
export class KeepingLogger implements LoggerService {
  readonly entries: Array<{ level: string; message: string; context?: string }> = [];

  constructor(private readonly quiet = false) {}

  log(message: unknown, context?: string): void {
    this.keep('log', message, context);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.keep('error', message, rest.at(-1) as string | undefined);
  }
  warn(message: unknown, context?: string): void {
    this.keep('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.keep('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.keep('verbose', message, context);
  }

  /** Warnings and errors whose message matches `pattern`. */
  problems(pattern: RegExp = /./): string[] {
    return this.entries
      .filter((entry) => (entry.level === 'warn' || entry.level === 'error') && pattern.test(entry.message))
      .map((entry) => `[${entry.level}] ${entry.context ?? ''}: ${entry.message}`);
  }

  private keep(level: string, message: unknown, context?: string): void {
    const text = message instanceof Error ? (message.stack ?? message.message) : String(message);
    this.entries.push({ level, message: text, context });
    if (!this.quiet && (level === 'warn' || level === 'error' || process.env.BGRS_TEST_LOG)) {
      process.stderr.write(`[${level}] ${context ?? ''}: ${text}\n`);
    }
  }
}
