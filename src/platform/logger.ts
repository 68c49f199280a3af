// The one logging interface, passed in to every component (no module-level console).
// Rule: log events, counts and error codes; never plaintext, keys, names, account ids or mailbox ids.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
export type LogFields = Record<string, string | number | boolean | undefined>

export interface Logger {
  debug: (event: string, fields?: LogFields) => void
  info: (event: string, fields?: LogFields) => void
  warn: (event: string, fields?: LogFields) => void
  error: (event: string, fields?: LogFields) => void
  child: (component: string) => Logger
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export function createLogger (options: { level?: LogLevel, component?: string, sink?: (line: string) => void } = {}): Logger {
  const level = options.level ?? 'info'
  const sink = options.sink ?? ((line: string) => { process.stderr.write(line + '\n') })
  const component = options.component ?? '0m1'
  const at = (l: Exclude<LogLevel, 'silent'>) => (event: string, fields?: LogFields): void => {
    if (ORDER[l] < ORDER[level]) return
    const extra = fields === undefined
      ? ''
      : Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}=${String(v)}`).join('')
    sink(`${new Date().toISOString()} ${l} ${component} ${event}${extra}`)
  }
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (name) => createLogger({ level, sink, component: `${component}:${name}` })
  }
}

export const silentLogger: Logger = createLogger({ level: 'silent' })
