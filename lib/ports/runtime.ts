// What every use case may be given: time, ids, a logger.

export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  newId(): string;
}

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}
