// The one logger. Modules take a child logger named after themselves.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'hifid' }, timestamp: pino.stdTimeFunctions.isoTime });
}
