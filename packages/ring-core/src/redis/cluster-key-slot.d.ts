declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot of a key (hash tags honoured): the function ioredis checks pipelines with. */
  function calculateSlot(key: string | Buffer): number;
  export = calculateSlot;
}
