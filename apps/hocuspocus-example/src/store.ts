import pg from 'pg';

/** Where documents persist (Yjs state per document name), shared by every node of the cluster. */
export interface DocumentStore {
  readonly kind: string;
  fetch(name: string): Promise<Uint8Array | null>;
  store(name: string, state: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * An in-process store: enough when every node runs in this process (the local cluster), as a stand-in for the
 * shared database of a real deployment. Documents are lost when the process exits.
 */
export function memoryStore(): DocumentStore {
  const documents = new Map<string, Uint8Array>();
  return {
    kind: 'in-process store',
    fetch: async (name) => documents.get(name) ?? null,
    store: async (name, state) => void documents.set(name, state),
    close: async () => {},
  };
}

/** PostgreSQL (DATABASE_URL): one row per document, shared by nodes in separate processes or machines. */
export async function postgresStore(connectionString: string, table = 'ringroute_documents'): Promise<DocumentStore> {
  const pool = new pg.Pool({ connectionString, max: 4 });
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (name text PRIMARY KEY, data bytea NOT NULL)`);
  return {
    kind: 'PostgreSQL',
    fetch: async (name) => {
      const { rows } = await pool.query<{ data: Buffer }>(`SELECT data FROM ${table} WHERE name = $1`, [name]);
      return rows[0] ? new Uint8Array(rows[0].data) : null;
    },
    store: async (name, state) => {
      await pool.query(`INSERT INTO ${table} (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data`, [
        name,
        Buffer.from(state),
      ]);
    },
    close: () => pool.end(),
  };
}
