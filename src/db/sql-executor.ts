/** Runs SQL on a given connection or transaction, for code that takes a plain executor (the job queue). */
export interface SqlExecutor {
  executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}
