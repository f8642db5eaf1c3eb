declare module 'hashring' {
  /** The parts of the npm `hashring` package (ketama, md5) the benchmarks compare against. */
  export default class HashRing {
    constructor(
      servers: string[] | Record<string, number | { weight?: number; vnodes?: number }>,
      algorithm?: string,
      options?: Record<string, unknown>,
    );
    get(key: string): string;
    range(key: string, size?: number, unique?: boolean): string[];
    add(servers: string | string[]): this;
    remove(server: string): this;
  }
}
